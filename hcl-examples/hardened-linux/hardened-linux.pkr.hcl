# A hardened Linux image, the amiforge way: the base machine is hardened with the built-in
# linux-baseline profile in one script run, and the report, SBOM and on-image evidence
# (/etc/amiforge) come back for the later stages (replicate, validate).
#
# Here the "machine" is any SSH host (hcl-examples/run.sh uses a sandboxed sshd on 127.0.0.1);
# in a real build it is the instance of an amazon-ebs source (see docs/components/amiforge-harden.md).

variable "ssh_host" {
  type    = string
  default = "127.0.0.1"
}

variable "ssh_port" {
  type = number
}

variable "ssh_username" {
  type    = string
  default = "admin"
}

variable "ssh_private_key_file" {
  type = string
}

source "null" "base" {
  ssh_host             = var.ssh_host
  ssh_port             = var.ssh_port
  ssh_username         = var.ssh_username
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "1m"
}

build {
  sources = ["source.null.base"]

  # what a sloppy base image looks like
  provisioner "shell" {
    inline = [
      "sudo -n sed -i 's/^#PermitRootLogin.*/PermitRootLogin yes/' /etc/ssh/sshd_config",
      "echo net.ipv4.ip_forward=1 | sudo -n tee /etc/sysctl.d/10-forwarding.conf",
      "sudo -n chmod 0666 /etc/shadow",
    ]
  }

  provisioner "amiforge-harden" {
    profile     = "linux-baseline"
    mode        = "enforce"
    report_path = "reports/hardening.json"
    parameters = {
      ssh_max_auth_tries = "3"
    }
  }

  # a second run proves idempotence: every control passes, nothing changes
  provisioner "amiforge-harden" {
    mode        = "audit"
    report_path = "reports/hardening-audit.json"
  }
}
