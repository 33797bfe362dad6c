# Windows Server 2022 AMI, generalised with EC2Launch v2 by amiforge-sysprep.
#
# NOT RUN HERE: this repository's machines have no Windows, WinRM or AWS account, so this file is
# only checked with `packer validate` (tests/tests/sysprep_packer.rs). The plugin side of the flow
# is proven end to end against a sandboxed SSH target with a PowerShell stand-in; see
# docs/components/amiforge-sysprep.md for what is and is not proven.
#
#   packer validate -var admin_password=... windows-2022.pkr.hcl
#   packer build    -var admin_password=... windows-2022.pkr.hcl

variable "region" {
  type    = string
  default = "eu-west-1"
}

# The build-time Administrator password (user_data sets it for WinRM). Sensitive: Packer masks it,
# amiforge-sysprep never sends it to the machine and removes every copy it finds before sysprep.
variable "admin_password" {
  type      = string
  sensitive = true
}

source "amazon-ebs" "windows2022" {
  region        = var.region
  instance_type = "m6i.large"
  ami_name      = "windows-2022-base-{{timestamp}}"

  source_ami_filter {
    filters = {
      name                = "Windows_Server-2022-English-Full-Base-*"
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

  # shutdown = false (default): EC2Launch v2 generalises without shutting down and Packer stops
  # the instance itself, so disable_stop_instance stays false.
}

build {
  sources = ["source.amazon-ebs.windows2022"]

  provisioner "powershell" {
    inline = ["Install-WindowsFeature -Name Web-Server"]
  }

  # A pending reboot would make sysprep fail: restart first.
  provisioner "windows-restart" {}

  # Last provisioner of the build.
  provisioner "amiforge-sysprep" {
    agent           = "ec2launch-v2" # or "auto": detected on the machine
    windows_release = "2022"         # checked against the agent at validate time and the machine at run time
    admin_password  = var.admin_password

    answer_file {
      computer_name        = "*"   # Windows picks a random name at first boot
      time_zone            = "UTC"
      locale               = "en-US"
      copy_profile         = false
      run_synchronous      = ["powershell -NoProfile -Command \"Set-Service W3SVC -StartupType Automatic\""]
      first_logon_commands = []
    }

    readiness {
      remove_blocking_appx = true # remove per-user AppX packages that would make sysprep fail
    }

    evidence_path = "out/sysprep-evidence.log"
  }
}
