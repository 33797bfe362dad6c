# Windows Server 2012 R2 AMI, generalised with EC2Config by amiforge-sysprep.
#
# NOT RUN HERE: this repository's machines have no Windows, WinRM or AWS account, so this file is
# only checked with `packer validate` (tests/tests/sysprep_packer.rs). See
# docs/components/amiforge-sysprep.md for what is and is not proven without Windows.
#
#   packer validate -var admin_password=... windows-2012r2.pkr.hcl

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "admin_password" {
  type      = string
  sensitive = true
}

source "amazon-ebs" "windows2012r2" {
  region        = var.region
  instance_type = "m5.large"
  ami_name      = "windows-2012r2-base-{{timestamp}}"

  source_ami_filter {
    filters = {
      name                = "Windows_Server-2012-R2_RTM-English-64Bit-Base-*"
      virtualization-type = "hvm"
    }
    owners      = ["amazon"]
    most_recent = true
  }

  communicator   = "winrm"
  winrm_username = "Administrator"
  winrm_password = var.admin_password
  winrm_use_ssl  = true
  winrm_insecure = true
  winrm_timeout  = "15m"
  user_data      = "<powershell>net user Administrator \"${var.admin_password}\"; winrm quickconfig -q -transport:https</powershell>"

  # EC2Config's -sysprep always shuts the instance down: Packer must wait for `stopped` instead
  # of stopping the instance itself.
  disable_stop_instance = true
}

build {
  sources = ["source.amazon-ebs.windows2012r2"]

  provisioner "windows-restart" {}

  provisioner "amiforge-sysprep" {
    agent           = "ec2config"
    windows_release = "2012r2"
    shutdown        = true # required with ec2config (shutdown = false is refused at validate)
    admin_password  = var.admin_password

    # written to C:\Program Files\Amazon\Ec2ConfigService\sysprep2008.xml
    answer_file {
      computer_name = "*"
      time_zone     = "W. Europe Standard Time"
      locale        = "de-DE"
    }
  }
}
