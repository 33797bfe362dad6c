# The whole golden-image pipeline in one `packer build`:
#   amazon-ebs builds an encrypted AMI → amiforge-harden hardens the instance (one script run,
#   signed report) → amiforge-replicate copies it to three regions (per-region KMS, tagged, shared,
#   deprecated, manifest) → amiforge-validate gates it (AMI attributes, a test instance per region
#   with IMDSv2 and status checks, the hardening profile re-run in audit mode over SSH, a user
#   check) → JUnit + JSON reports, and the "approved" SSM pointer moves only if everything passed.
#
# hcl-examples/run.sh runs this offline: AWS is the emulator on 127.0.0.1 (`endpoint`), and every
# SSH connection (Packer's and the validator's, via `ssh_host`) goes to a sandboxed sshd. Against
# real AWS, drop `endpoint`, the access keys and `validator_ssh_host`, use your own base AMI, KMS
# aliases and a key pair (or let the validator make one: leave `ssh_keypair_name` unset), or
# keep the default transport = "ssm".

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
variable "validator_ssh_host" {
  type    = string
  default = ""
}
variable "validator_ssh_cidr" {
  type    = string
  default = "127.0.0.1/32"
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
  ami_name                   = "golden-web-{{timestamp}}"
  encrypt_boot               = true
  kms_key_id                 = "alias/images"
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
      strategy           = "full" # baked completely: nothing left for launch time (3 months shelf life)
      manifest_path      = "reports/manifest.json"
      hardening_report   = "reports/hardening.json"
    }
    post-processor "amiforge-validate" {
      instance_types       = ["t3.micro"]
      timeout              = "10m"
      poll_interval        = "1s"
      required_tags        = { team = "platform" }
      transport            = "ssh"
      ssh_username         = "admin"
      ssh_host             = var.validator_ssh_host
      ssh_keypair_name     = "golden-validator"
      ssh_private_key_file = var.ssh_private_key_file
      ssh_cidr             = var.validator_ssh_cidr
      check {
        name          = "sshd-config-valid"
        command       = "/usr/sbin/sshd -t && echo sshd-ok"
        expect_output = "sshd-ok"
      }
      junit_path         = "reports/validation.xml"
      report_path        = "reports/validation.json"
      approved_parameter = "/images/web/approved"
    }
    post-processor "manifest" {
      output = "reports/packer-manifest.json"
    }
  }
}
