# The SDK's example plugin end to end: a null "machine" reached over SSH, a file up, commands
# streamed, a file back, and a post-processor that wraps the artifact.
#
# Run it with `hcl-examples/run.sh` (starts a sandboxed sshd on 127.0.0.1 and passes the
# variables below), or against any SSH host you own:
#   packer build -var ssh_host=10.0.0.5 -var ssh_port=22 -var ssh_username=admin \
#     -var ssh_private_key_file=~/.ssh/id_ed25519 scaffold.pkr.hcl
# Install the plugin first (see docs/install.md): for Packer 1.6 put packer-plugin-scaffold
# next to this file or in ~/.packer.d/plugins/.

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

variable "payload" {
  type        = string
  description = "A local file to send to the machine and fetch back."
  default     = "payload.txt"
}

source "null" "sandbox" {
  ssh_host             = var.ssh_host
  ssh_port             = var.ssh_port
  ssh_username         = var.ssh_username
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "1m"
}

build {
  sources = ["source.null.sandbox"]

  provisioner "scaffold-run" {
    upload_source      = var.payload
    upload_destination = "/home/admin/payload.txt"
    inline = [
      "echo \"hello from $(hostname), kernel $(uname -r)\"",
      "sha256sum /home/admin/payload.txt",
      "for i in 1 2 3; do echo step $i; sleep 0.3; done",
    ]
    download_source      = "/home/admin/payload.txt"
    download_destination = "payload.back.txt"
  }

  post-processor "scaffold-wrap" {
    note = "built by hcl-examples/scaffold"
  }
}
