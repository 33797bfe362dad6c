# The golden-image path so far: amazon-ebs builds an AMI, amiforge-harden hardens the instance
# in one script run, amiforge-replicate copies the AMI to three regions (encrypted per region,
# tagged, shared, deprecated, recorded), and Packer's manifest post-processor records the result.
#
# hcl-examples/run.sh runs this against the AWS emulator (moto, on 127.0.0.1) with the instance's
# SSH pointed at a sandboxed sshd: `endpoint`, `ssh_host` and `ssh_port` are only needed there.
# Against real AWS, drop them (and the access keys) and use your own base AMI and KMS aliases.

variable "endpoint" {
  type    = string
  default = ""
}
variable "ssh_host" {
  type    = string
  default = ""
}
variable "ssh_port" {
  type    = number
  default = 22
}
variable "ssh_private_key_file" {
  type = string
}
variable "source_ami" {
  type    = string
  default = "ami-0e1a1a1a1a1a1a1a1"
}
variable "regions" {
  type    = list(string)
  default = ["eu-west-1", "us-west-2", "ap-southeast-2"]
}

source "amazon-ebs" "web" {
  region                     = "us-east-1"
  custom_endpoint_ec2        = var.endpoint
  skip_credential_validation = var.endpoint != ""
  skip_metadata_api_check    = var.endpoint != ""
  skip_region_validation     = var.endpoint != ""
  source_ami                 = var.source_ami
  instance_type              = "t3.micro"
  ami_name                   = "web-{{timestamp}}"
  ssh_username               = "admin"
  ssh_host                   = var.ssh_host
  ssh_port                   = var.ssh_port
  ssh_private_key_file       = var.ssh_private_key_file
  aws_polling {
    delay_seconds = 2
    max_attempts  = 300
  }
}

build {
  sources = ["source.amazon-ebs.web"]

  provisioner "amiforge-harden" {
    report_path = "reports/hardening.json"
  }

  post-processors {
    post-processor "amiforge-replicate" {
      regions            = var.regions
      region_kms_key_ids = { for r in var.regions : r => "alias/images" }
      tags               = { team = "platform", service = "web" }
      account_ids        = ["111122223333"]
      strategy           = "hybrid"
      keep_releases      = 3
      manifest_path      = "reports/manifest.json"
      hardening_report   = "reports/hardening.json"
      ssm_parameter      = "/images/web/latest"
    }
    post-processor "manifest" {
      output = "reports/packer-manifest.json"
    }
  }
}
