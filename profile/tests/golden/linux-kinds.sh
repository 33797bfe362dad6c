
AF_MODE=enforce
af_facts
af_run() {
  # sshd: sshd
  af_control 'sshd' af_sshd_check af_sshd_fix 'PermitRootLogin' 'no' 'eq'
  # sysctl: sysctl
  if af_platform 'debian' 'rhel'; then af_control 'sysctl' af_sysctl_check af_sysctl_fix 'net.ipv4.ip_forward' '0'; else af_skip 'sysctl' "not for $AF_OS_ID (applies to: debian, rhel)"; fi
  # cfg: config
  af_control 'cfg' af_cfg_check af_cfg_fix '/etc/login.defs' 'PASS_MAX_DAYS' '365' 'space' 'le'
  # mode: mode
  af_control 'mode' af_mode_check af_mode_fix '/etc/ssh/ssh_host_*_key' '0600' 'root' 'root ssh_keys'
  # absent: absent
  af_control 'absent' af_absent_check af_absent_fix '/root/.rhosts' '/home/*/.netrc'
  # line: line
  af_control 'line' af_line_check af_line_fix '/etc/issue.net' 'It'\''s authorized use only' '0644'
  # svc: service
  af_control 'svc' af_svc_disabled_check af_svc_disabled_fix 'cups' 'true'
  # on: enabled
  af_control 'on' af_svc_enabled_check af_svc_enabled_fix 'auditd'
  # pkg-absent: absent pkg
  af_control 'pkg-absent' af_pkg_absent_check af_pkg_absent_fix 'telnetd' 'telnet-server'
  # pkg-present: present pkg
  af_control 'pkg-present' af_pkg_present_check af_pkg_present_fix 'auditd' 'audit'
  # mod: module
  af_control 'mod' af_mod_check af_mod_fix 'cramfs'
  # mnt: mount
  af_control 'mnt' af_mount_check af_mount_fix '/dev/shm' 'nodev,nosuid'
  # rule: audit rule
  af_control 'rule' af_audit_check af_audit_fix '-w /etc/passwd -p wa -k identity'
  # cmd: command
  af_skip 'cmd' 'excluded by the template'
  # interval: sshd range
  af_control 'interval' af_sshd_check af_sshd_fix 'ClientAliveInterval' '1..300' 'range'
  # kex: sshd algorithms
  af_control 'kex' af_algs_check af_algs_fix 'KexAlgorithms' 'kex' 'mlkem* curve25519-sha256*' 'mlkem*'
  # faillock: pam module
  AF_PAMCFG_t_faillock='Name: it'\''s a test
Auth:
	requisite	pam_faillock.so preauth'; af_control 'faillock' af_pam_check af_pam_fix 'pam_faillock' 'auth account' 't-faillock unix' 'with-faillock' ''
  # deny: needs
  AF_NEEDS='faillock interval'; af_control 'deny' af_cfg_check af_cfg_fix '/etc/security/faillock.conf' 'deny' '1..5' 'equals' 'range'; AF_NEEDS=
  # umask: login umask
  af_control 'umask' af_umask_check af_umask_fix '027' ''
}
af_run
af_inventory
af_evidence || AF_EVIDENCE_FAILED=1
rm -f -- "$0"
[ -z "${AF_EVIDENCE_FAILED:-}" ] || exit 3
printf 'AMIFORGE-DONE\n'
