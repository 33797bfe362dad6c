# --- amiforge-harden runtime (POSIX sh). Each check sets AF_VALUE (what it saw) and AF_DETAIL,
# and returns 0 compliant, 1 not compliant, 2 not applicable, 3 configured but only effective at
# boot, 4 configured but its effect cannot be confirmed on this target. Each fix returns 0 when it changed what it had to. af_control drives check, fix, re-check.
set -u
LC_ALL=C
export LC_ALL
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
DEBIAN_FRONTEND=noninteractive
export DEBIAN_FRONTEND
AF_VALUE=
AF_DETAIL=
AF_SSHD_T=
AF_TAG='# managed by amiforge-harden'

af_json() {
  printf '%s' "$1" | tr '\n\r\t' '   ' | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'
}

af_emit() { # id status changed before after detail
  printf 'AMIFORGE-RESULT {"id":"%s","status":"%s","changed":%s,"before":"%s","after":"%s","detail":"%s"}\n' \
    "$1" "$2" "$3" "$(af_json "$4")" "$(af_json "$5")" "$(af_json "$6")"
  eval "AF_ST_$(af_var "$1")=\$2"
}

af_var() { printf '%s' "$1" | tr -c 'A-Za-z0-9_' '_'; }

# af_unmet: does a control in AF_NEEDS (the ids this one's effect depends on) not hold? Sets
# AF_UNMET to failed (one failed or did not run) or not_verifiable (one does not apply here).
af_unmet() {
  AF_UNMET=; AF_UNMET_DETAIL=
  for af_n in $AF_NEEDS; do
    eval "af_s=\${AF_ST_$(af_var "$af_n"):-}"
    case $af_s in
      pass|fixed|applies_at_boot) ;;
      not_applicable|not_verifiable)
        [ "$AF_UNMET" = failed ] && continue
        AF_UNMET=not_verifiable; AF_UNMET_DETAIL="its effect depends on $af_n, which is ${af_s} here" ;;
      *) AF_UNMET=failed; AF_UNMET_DETAIL="configured but without effect: $af_n is ${af_s:-not run}" ;;
    esac
  done
  [ -n "$AF_UNMET" ]
}

# af_result: af_emit, except that an outcome that holds becomes AF_UNMET when a needed control
# does not hold.
af_result() { # id status changed before after detail
  case $2 in
    pass|fixed|applies_at_boot)
      if [ -n "${AF_NEEDS:-}" ] && af_unmet; then
        af_emit "$1" "$AF_UNMET" "$3" "$4" "$5" "$AF_UNMET_DETAIL${6:+; $6}"; return 0
      fi ;;
  esac
  af_emit "$@"
}

af_lower() { printf '%s' "$1" | tr 'A-Z' 'a-z'; }

# af_compare HAVE WANT OP: eq (case-insensitive) | le | ge (integers) | one_of (WANT a|b|c) |
# range (WANT LO..HI, integers, both included)
af_compare() {
  case $3 in
    range) case $1 in ''|*[!0-9-]*) return 1 ;; esac; [ "$1" -ge "${2%%..*}" ] && [ "$1" -le "${2##*..}" ] ;;
    eq) [ "$(af_lower "$1")" = "$(af_lower "$2")" ] ;;
    le) case $1 in ''|*[!0-9-]*) return 1 ;; esac; [ "$1" -le "$2" ] ;;
    ge) case $1 in ''|*[!0-9-]*) return 1 ;; esac; [ "$1" -ge "$2" ] ;;
    one_of)
      af_h=$(af_lower "$1")
      af_IFS=$IFS; IFS='|'
      for af_w in $2; do
        if [ "$af_h" = "$(af_lower "$af_w")" ]; then IFS=$af_IFS; return 0; fi
      done
      IFS=$af_IFS; return 1 ;;
    *) return 1 ;;
  esac
}

# af_platform FAMILY...: does /etc/os-release ID or ID_LIKE name one of them?
af_platform() {
  for af_p in "$@"; do
    for af_f in $AF_OS_ID $AF_OS_LIKE; do
      [ "$af_f" = "$af_p" ] && return 0
    done
  done
  return 1
}

af_control() { # id check fix args...
  af_id=$1; af_chk=$2; af_fix=$3; shift 3
  AF_VALUE=; AF_DETAIL=
  "$af_chk" "$@"; af_rc=$?
  af_before=$AF_VALUE
  case $af_rc in
    0) af_result "$af_id" pass false "$af_before" "$af_before" "$AF_DETAIL"; return 0 ;;
    2) af_emit "$af_id" not_applicable false "$af_before" "$af_before" "$AF_DETAIL"; return 0 ;;
    3) af_result "$af_id" applies_at_boot false "$af_before" "$af_before" "$AF_DETAIL"; return 0 ;;
    4) af_emit "$af_id" not_verifiable false "$af_before" "$af_before" "$AF_DETAIL"; return 0 ;;
  esac
  if [ "$AF_MODE" != enforce ]; then
    af_emit "$af_id" failed false "$af_before" "$af_before" "${AF_DETAIL:-not compliant}"
    return 0
  fi
  if [ "$af_fix" = - ]; then
    af_emit "$af_id" failed false "$af_before" "$af_before" "${AF_DETAIL:-not compliant}; no automatic fix"
    return 0
  fi
  AF_DETAIL=
  if ! "$af_fix" "$@" >&2; then
    af_emit "$af_id" failed true "$af_before" "$af_before" "fix failed: ${AF_DETAIL:-see the output above}"
    return 0
  fi
  af_fixnote=$AF_DETAIL
  AF_VALUE=; AF_DETAIL=
  "$af_chk" "$@"; af_rc=$?
  case $af_rc in
    0) af_result "$af_id" fixed true "$af_before" "$AF_VALUE" "$af_fixnote" ;;
    3) af_result "$af_id" applies_at_boot true "$af_before" "$AF_VALUE" "fixed; $AF_DETAIL" ;;
    2) af_emit "$af_id" not_applicable true "$af_before" "$AF_VALUE" "$AF_DETAIL" ;;
    4) af_emit "$af_id" not_verifiable true "$af_before" "$AF_VALUE" "fixed; $AF_DETAIL" ;;
    *) af_emit "$af_id" failed true "$af_before" "$AF_VALUE" "still not compliant after the fix${AF_DETAIL:+: $AF_DETAIL}" ;;
  esac
}

af_skip() { af_emit "$1" not_applicable false "" "" "$2"; }

# Writes stdin to FILE atomically, keeping FILE's mode/owner when it exists (MODE otherwise).
af_replace() { # file mode
  af_t="$1.amiforge-tmp.$$"
  mkdir -p "$(dirname "$1")" || return 1
  cat > "$af_t" || { rm -f "$af_t"; return 1; }
  if [ -e "$1" ]; then chmod --reference="$1" "$af_t" 2>/dev/null; chown --reference="$1" "$af_t" 2>/dev/null
  else chmod "$2" "$af_t"; fi
  mv -f "$af_t" "$1"
}

# --- sshd_config: the effective value (sshd -T), fixed by a managed line at the top --------------
af_sshd_value() { # key -> AF_VALUE = the effective value (sshd -T); 1 when sshd -T fails
  if [ -z "$AF_SSHD_T" ]; then
    AF_SSHD_T=$(sshd -T 2>&1) || { AF_VALUE=; AF_DETAIL="sshd -T failed: $(printf '%s' "$AF_SSHD_T" | head -n 1)"; AF_SSHD_T=; return 1; }
  fi
  af_k=$(af_lower "$1")
  AF_VALUE=$(printf '%s\n' "$AF_SSHD_T" | awk -v k="$af_k" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }')
}

af_sshd_check() { # key want op
  command -v sshd >/dev/null 2>&1 || { AF_DETAIL="sshd is not installed"; return 2; }
  af_sshd_value "$1" || return 1
  af_compare "$AF_VALUE" "$2" "${3:-eq}" && return 0
  [ "${3:-eq}" = range ] && AF_DETAIL="$1 ${AF_VALUE:-unset} is outside $2"
  return 1
}

af_sshd_fix() { # key value op
  af_f=/etc/ssh/sshd_config
  af_v=$2; [ "${3:-eq}" = one_of ] && af_v=${2%%|*}; [ "${3:-eq}" = range ] && af_v=${2##*..}
  [ -f "$af_f" ] || { AF_DETAIL="$af_f is missing"; return 1; }
  af_k=$(af_lower "$1")
  # our line goes first (sshd keeps the first value it reads, and it must precede any Include or
  # Match), after a tag comment; a previous managed line for the key is dropped, and other
  # settings of the key outside Match blocks are commented out for reviewers
  { printf '%s\n%s %s\n' "$AF_TAG" "$1" "$af_v"
    awk -v k="$af_k" -v tag="$AF_TAG" '
      function keyof(s,  t, w) { t = s; sub(/^[ \t]+/, "", t); split(t, w, /[ \t=]+/); return tolower(w[1]) }
      skip { skip = 0; if (keyof($0) == k) { held = ""; next } }
      $0 == tag { skip = 1; held = $0; next }
      held != "" { print held; held = "" }
      /^[ \t]*[Mm][Aa][Tt][Cc][Hh][ \t]/ { inmatch = 1 }
      { if (!inmatch && keyof($0) == k && $0 !~ /^[ \t]*#/) { print "# " $0 "  # disabled by amiforge-harden"; next }
        print }
      END { if (held != "") print held }' "$af_f"
  } > "$af_f.amiforge-new" || return 1
  if ! sshd -t -f "$af_f.amiforge-new" >/dev/null 2>&1; then
    AF_DETAIL="sshd rejects $1 $af_v ($(sshd -t -f "$af_f.amiforge-new" 2>&1 | head -n 1)); left unchanged"
    rm -f "$af_f.amiforge-new"
    return 1
  fi
  af_replace "$af_f" 0600 < "$af_f.amiforge-new"; af_r=$?
  rm -f "$af_f.amiforge-new"
  AF_SSHD_T=
  return $af_r
}

# --- sysctl: persisted (sysctl.d in the order systemd-sysctl/procps apply it) and live -----------
af_sysctl_files() {
  for af_d in /etc/sysctl.d /run/sysctl.d /usr/local/lib/sysctl.d /usr/lib/sysctl.d /lib/sysctl.d; do
    [ -d "$af_d" ] || continue
    for af_f in "$af_d"/*.conf; do [ -e "$af_f" ] && printf '%s %s\n' "${af_f##*/}" "$af_f"; done
  done | sort -s -k1,1 | awk '!seen[$1]++ { print $2 }'
  # procps reads /etc/sysctl.conf last (unless a sysctl.d entry already is it)
  [ -f /etc/sysctl.conf ] && printf '%s\n' /etc/sysctl.conf
}

af_sysctl_persisted() { # key -> last value assigned
  af_sysctl_files | while read -r af_f; do cat "$af_f"; echo; done | awk -v k="$1" '
    { l = $0; sub(/^[ \t-]+/, "", l) }
    l ~ /^[#;]/ || l !~ /=/ { next }
    { n = l; sub(/[ \t]*=.*/, "", n); gsub(/\//, ".", n)
      if (n == k) { v = l; sub(/^[^=]*=[ \t]*/, "", v); sub(/[ \t]+$/, "", v); gsub(/[ \t]+/, " ", v); val = v } }
    END { print val }'
}

af_sysctl_check() { # key want
  af_p=/proc/sys/$(printf '%s' "$1" | tr . /)
  af_pv=$(af_sysctl_persisted "$1")
  af_lv=$(cat "$af_p" 2>/dev/null | tr -s '\t ' '  ')
  AF_VALUE="persisted=${af_pv:-unset} live=${af_lv:-unavailable}"
  [ "$af_pv" = "$2" ] || { AF_DETAIL="persisted value is ${af_pv:-unset}"; return 1; }
  [ -e "$af_p" ] || { AF_DETAIL="this kernel has no $1; the setting applies where it exists"; return 3; }
  [ "$af_lv" = "$2" ] && return 0
  if [ "$AF_PROC_SYS" = ro ]; then
    AF_DETAIL="/proc/sys is read-only here; the persisted value applies at boot"
    return 3
  fi
  AF_DETAIL="live value is $af_lv"
  return 1
}

af_sysctl_fix() { # key value
  af_own=/etc/sysctl.d/99-zz-amiforge.conf
  af_p=/proc/sys/$(printf '%s' "$1" | tr . /)
  # comment out other assignments of the key in /etc (package files elsewhere are overridden)
  for af_f in /etc/sysctl.conf /etc/sysctl.d/*.conf; do
    [ -f "$af_f" ] && [ "$af_f" != "$af_own" ] && [ ! -L "$af_f" ] || continue
    if awk -v k="$1" '{ l = $0; sub(/^[ \t-]+/, "", l); n = l; sub(/[ \t]*=.*/, "", n); gsub(/\//, ".", n) }
                      l !~ /^[#;]/ && l ~ /=/ && n == k { found = 1 } END { exit !found }' "$af_f"; then
      awk -v k="$1" '{ l = $0; sub(/^[ \t-]+/, "", l); n = l; sub(/[ \t]*=.*/, "", n); gsub(/\//, ".", n) }
                     l !~ /^[#;]/ && l ~ /=/ && n == k { print "# " $0 "  # disabled by amiforge-harden"; next } { print }' "$af_f" \
        | af_replace "$af_f" 0644 || return 1
    fi
  done
  { if [ -f "$af_own" ]; then grep -v "^[ \t]*$1[ \t]*=" "$af_own"; else printf '%s\n' "$AF_TAG"; fi
    printf '%s = %s\n' "$1" "$2"; } | af_replace "$af_own" 0644 || return 1
  if [ "$AF_PROC_SYS" = rw ] && [ -w "$af_p" ]; then
    sysctl -q -w "$1=$2" >/dev/null 2>&1 || AF_DETAIL="live change refused; applies at boot"
  fi
  return 0
}

# --- key/value config files -----------------------------------------------------------------------
af_cfg_get() { # file key sep
  [ -f "$1" ] || return 0
  if [ "$3" = equals ]; then
    awk -v k="$2" '/^[ \t]*#/ { next } { l = $0; n = l; sub(/[ \t]*=.*/, "", n); sub(/^[ \t]+/, "", n)
      if (n == k && l ~ /=/) { v = l; sub(/^[^=]*=[ \t]*/, "", v); sub(/[ \t]+$/, "", v); val = v } } END { print val }' "$1"
  else
    awk -v k="$2" '/^[ \t]*#/ { next } $1 == k { v = $2 } END { print v }' "$1"
  fi
}

af_cfg_check() { # file key want sep op
  AF_VALUE=$(af_cfg_get "$1" "$2" "$4")
  af_compare "$AF_VALUE" "$3" "$5" || { AF_DETAIL="$2 is ${AF_VALUE:-unset} in $1"; return 1; }
}

af_cfg_fix() { # file key value sep op
  case $5 in one_of) af_v=${3%%|*} ;; range) af_v=${3##*..} ;; *) af_v=$3 ;; esac
  if [ "$4" = equals ]; then af_line="$2 = $af_v"; else af_line="$2 $af_v"; fi
  mkdir -p "$(dirname "$1")" || return 1
  if [ -n "$(af_cfg_get "$1" "$2" "$4")" ]; then
    awk -v k="$2" -v line="$af_line" -v sep="$4" '
      !/^[ \t]*#/ { n = $0; if (sep == "equals") { sub(/[ \t]*=.*/, "", n); sub(/^[ \t]+/, "", n) } else { split($0, w, /[ \t]+/); n = (w[1] == "" ? w[2] : w[1]) }
        if (n == k) { print line; next } } { print }' "$1" | af_replace "$1" 0644
  else
    { [ -f "$1" ] && cat "$1"; printf '%s\n' "$af_line"; } | af_replace "$1" 0644
  fi
}

# --- file modes -------------------------------------------------------------------------------
af_mode_check() { # glob maxmode owner groups(space separated)
  af_any=; af_bad=; AF_VALUE=
  for af_f in $1; do
    [ -e "$af_f" ] || continue
    af_any=1
    af_m=$(stat -c %a "$af_f"); af_o=$(stat -c %U "$af_f"); af_g=$(stat -c %G "$af_f")
    AF_VALUE="${AF_VALUE:+$AF_VALUE, }$af_f 0$af_m $af_o:$af_g"
    [ $(( 0$af_m & ~0$2 & 07777 )) -eq 0 ] || af_bad=1
    [ -z "$3" ] || [ "$af_o" = "$3" ] || af_bad=1
    if [ -n "$4" ]; then
      af_ok=; for af_w in $4; do [ "$af_g" = "$af_w" ] && af_ok=1; done
      [ -n "$af_ok" ] || af_bad=1
    fi
  done
  [ -n "$af_any" ] || { AF_DETAIL="no file matches $1"; return 2; }
  [ -z "$af_bad" ]
}

af_mode_fix() { # glob maxmode owner groups
  for af_f in $1; do
    [ -e "$af_f" ] || continue
    af_m=$(stat -c %a "$af_f")
    chmod "$(printf '%o' $(( 0$af_m & 0$2 )))" "$af_f" || return 1
    [ -z "$3" ] || chown "$3" "$af_f" || return 1
    if [ -n "$4" ]; then
      af_g=$(stat -c %G "$af_f"); af_ok=
      for af_w in $4; do [ "$af_g" = "$af_w" ] && af_ok=1; done
      if [ -z "$af_ok" ]; then
        for af_w in $4; do getent group "$af_w" >/dev/null 2>&1 && { chgrp "$af_w" "$af_f" || return 1; break; }; done
      fi
    fi
  done
}

af_absent_check() { # globs...
  AF_VALUE=
  for af_g in "$@"; do for af_f in $af_g; do [ -e "$af_f" ] || [ -L "$af_f" ] && AF_VALUE="${AF_VALUE:+$AF_VALUE }$af_f"; done; done
  [ -z "$AF_VALUE" ]
}

af_absent_fix() {
  for af_g in "$@"; do for af_f in $af_g; do if [ -f "$af_f" ] || [ -L "$af_f" ]; then rm -f "$af_f" || return 1; fi; done; done
}

af_line_check() { # file line mode
  AF_VALUE=
  [ -f "$1" ] || { AF_DETAIL="$1 does not exist"; return 1; }
  grep -Fxq -- "$2" "$1" && AF_VALUE=present && return 0
  AF_VALUE=absent; return 1
}

af_line_fix() {
  mkdir -p "$(dirname "$1")" || return 1
  { [ -f "$1" ] && cat "$1"; printf '%s\n' "$2"; } | af_replace "$1" "$3"
}

# --- services (systemd unit files; works without systemd running) ----------------------------------
af_unit_state() { systemctl is-enabled "$1" 2>/dev/null | head -n 1; }

af_svc_disabled_check() { # service mask(true|false)
  command -v systemctl >/dev/null 2>&1 || { AF_DETAIL="no systemd"; return 2; }
  AF_VALUE=$(af_unit_state "$1")
  case $AF_VALUE in
    ''|not-found) AF_VALUE=not-installed; AF_DETAIL="$1 is not installed"; return 2 ;;
    masked|masked-runtime) return 0 ;;
    disabled|static|indirect|linked|generated) [ "$2" = true ] && return 1; return 0 ;;
    *) return 1 ;;
  esac
}

af_svc_disabled_fix() {
  [ "$AF_INIT" = systemd ] && systemctl stop "$1" 2>/dev/null
  systemctl disable "$1" || return 1
  [ "$2" = true ] && { systemctl mask "$1" || return 1; }
  return 0
}

af_svc_enabled_check() { # service
  command -v systemctl >/dev/null 2>&1 || { AF_DETAIL="no systemd"; return 2; }
  AF_VALUE=$(af_unit_state "$1")
  case $AF_VALUE in
    enabled|enabled-runtime|alias) return 0 ;;
    ''|not-found) AF_VALUE=not-installed; AF_DETAIL="$1 is not installed"; return 1 ;;
    *) return 1 ;;
  esac
}

af_svc_enabled_fix() {
  systemctl enable "$1" || return 1
  [ "$AF_INIT" = systemd ] && systemctl start "$1"
  return 0
}

# --- packages -------------------------------------------------------------------------------------
af_pkg_installed() { # name
  if command -v dpkg-query >/dev/null 2>&1; then
    [ "$(dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
  elif command -v rpm >/dev/null 2>&1; then
    rpm -q "$1" >/dev/null 2>&1
  else
    return 1
  fi
}

af_pkg_absent_check() { # names...
  AF_VALUE=
  for af_n in "$@"; do af_pkg_installed "$af_n" && AF_VALUE="${AF_VALUE:+$AF_VALUE }$af_n"; done
  [ -z "$AF_VALUE" ]
}

af_pkg_absent_fix() {
  for af_n in "$@"; do
    af_pkg_installed "$af_n" || continue
    if command -v apt-get >/dev/null 2>&1; then apt-get -y -q purge "$af_n" || return 1
    elif command -v dnf >/dev/null 2>&1; then dnf -y -q remove "$af_n" || return 1
    elif command -v yum >/dev/null 2>&1; then yum -y -q remove "$af_n" || return 1
    else AF_DETAIL="no package manager"; return 1; fi
  done
}

af_pkg_present_check() { # names...
  for af_n in "$@"; do af_pkg_installed "$af_n" && { AF_VALUE="$af_n installed"; return 0; }; done
  AF_VALUE="none of $* installed"; return 1
}

af_pkg_present_fix() {
  for af_n in "$@"; do
    if command -v apt-get >/dev/null 2>&1; then
      apt-cache show "$af_n" >/dev/null 2>&1 || apt-get -q update >/dev/null 2>&1
      apt-cache show "$af_n" >/dev/null 2>&1 || continue
      # keep configuration a control may already have written (conffile prompts would fail)
      apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        install --no-install-recommends "$af_n" && return 0
    elif command -v dnf >/dev/null 2>&1; then dnf -y -q install "$af_n" && return 0
    elif command -v yum >/dev/null 2>&1; then yum -y -q install "$af_n" && return 0
    fi
  done
  AF_DETAIL="could not install any of: $* (are the package repositories reachable?)"
  return 1
}

# --- kernel modules ----------------------------------------------------------------------------
af_mod_configured() { # module: 'install M /bin/false|true' in modprobe configuration
  cat /etc/modprobe.d/*.conf /run/modprobe.d/*.conf /usr/local/lib/modprobe.d/*.conf /usr/lib/modprobe.d/*.conf /lib/modprobe.d/*.conf 2>/dev/null |
    awk -v m="$1" '{ gsub(/-/, "_", $2); k = m; gsub(/-/, "_", k) } $1 == "install" && $2 == k && ($3 ~ /\/(false|true)$/) { f = 1 } END { exit !f }'
}

af_mod_check() { # module
  af_k=$(printf '%s' "$1" | tr - _)
  af_loaded=; grep -q "^$af_k " /proc/modules 2>/dev/null && af_loaded=1
  if af_mod_configured "$1"; then AF_VALUE="disabled"; else AF_VALUE="loadable"; fi
  [ -n "$af_loaded" ] && AF_VALUE="$AF_VALUE, loaded"
  af_mod_configured "$1" || return 1
  if [ -n "$af_loaded" ]; then
    AF_DETAIL="loaded in the running kernel; it will not load after a reboot"
    return 3
  fi
  return 0
}

af_mod_fix() {
  printf '%s\ninstall %s /bin/false\nblacklist %s\n' "$AF_TAG" "$1" "$1" | af_replace "/etc/modprobe.d/amiforge-$1.conf" 0644 || return 1
  if grep -q "^$(printf '%s' "$1" | tr - _) " /proc/modules 2>/dev/null; then modprobe -r "$1" >/dev/null 2>&1; fi
  return 0
}

# --- mount options ------------------------------------------------------------------------------
af_mount_check() { # mountpoint options(comma separated)
  af_fs=$(awk -v m="$1" '$1 !~ /^#/ && $2 == m { print $4 }' /etc/fstab 2>/dev/null | tail -n 1)
  af_live=$(awk -v m="$1" '$2 == m { print $4 }' /proc/self/mounts 2>/dev/null | tail -n 1)
  AF_VALUE="fstab=${af_fs:-none} live=${af_live:-not mounted}"
  if [ -z "$af_fs" ] && [ -z "$af_live" ]; then
    AF_DETAIL="$1 is not a separate mount (give it its own volume or tmpfs to apply this)"
    return 2
  fi
  af_miss=; af_miss_live=
  af_IFS=$IFS; IFS=,
  for af_o in $2; do
    case ",${af_fs:-$af_live}," in *",$af_o,"*) ;; *) af_miss="$af_miss $af_o" ;; esac
    case ",$af_live," in *",$af_o,"*) ;; *) af_miss_live="$af_miss_live $af_o" ;; esac
  done
  IFS=$af_IFS
  [ -z "$af_miss" ] || { AF_DETAIL="missing:$af_miss"; return 1; }
  if [ -n "$af_miss_live" ] && [ -n "$af_live" ]; then AF_DETAIL="configured; remount or reboot applies:$af_miss_live"; return 3; fi
  return 0
}

af_mount_fix() {
  if awk -v m="$1" '$1 !~ /^#/ && $2 == m { f = 1 } END { exit !f }' /etc/fstab 2>/dev/null; then
    awk -v m="$1" -v add="$2" 'BEGIN { n = split(add, a, ",") }
      $1 !~ /^#/ && $2 == m { o = "," $4 ","; for (i = 1; i <= n; i++) if (index(o, "," a[i] ",") == 0) o = o a[i] ","
        sub(/^,/, "", o); sub(/,$/, "", o); $4 = o } { print }' /etc/fstab | af_replace /etc/fstab 0644 || return 1
  else
    af_t=$(awk -v m="$1" '$2 == m { print $3 }' /proc/self/mounts | tail -n 1)
    printf '%s\ntmpfs %s %s defaults,%s 0 0\n' "$AF_TAG" "$1" "${af_t:-tmpfs}" "$2" >> /etc/fstab || return 1
  fi
  mount -o "remount,$2" "$1" >/dev/null 2>&1 || true
  return 0
}

# --- audit rules ----------------------------------------------------------------------------------
af_audit_norm() { printf '%s' "$1" | tr -s ' \t' '  ' | sed 's/^ //; s/ $//'; }

af_audit_check() { # rule
  af_r=$(af_audit_norm "$1")
  if cat /etc/audit/rules.d/*.rules 2>/dev/null | tr -s ' \t' '  ' | sed 's/^ //; s/ $//' | grep -Fxq -- "$af_r"; then
    AF_VALUE=persisted
  else
    AF_VALUE=absent; return 1
  fi
  if command -v auditctl >/dev/null 2>&1 && auditctl -s 2>/dev/null | grep -q 'enabled [12]'; then return 0; fi
  AF_DETAIL="auditd is not running here; the rule loads at boot"
  return 3
}

af_audit_fix() {
  case $1 in -e*) af_f=/etc/audit/rules.d/99-zz-amiforge-final.rules ;; *) af_f=/etc/audit/rules.d/50-amiforge.rules ;; esac
  mkdir -p /etc/audit/rules.d || return 1
  { if [ -f "$af_f" ]; then cat "$af_f"; else printf '%s\n' "$AF_TAG"; fi; printf '%s\n' "$1"; } | af_replace "$af_f" 0640 || return 1
  if command -v augenrules >/dev/null 2>&1 && auditctl -s 2>/dev/null | grep -q 'enabled 1'; then augenrules --load >/dev/null 2>&1; fi
  return 0
}

# --- escape hatch -------------------------------------------------------------------------------
af_cmd_check() { # snippet
  AF_VALUE=$( (eval "$1") 2>&1 ); af_r=$?
  AF_VALUE=$(printf '%s' "$AF_VALUE" | head -c 300)
  return $(( af_r == 0 ? 0 : 1 ))
}

af_cmd_fix() { # check-snippet fix-snippet
  ( eval "$2" )
}

# --- facts and inventory --------------------------------------------------------------------------
af_facts() {
  AF_OS_ID=unknown; AF_OS_LIKE=; af_ver=
  if [ -r /etc/os-release ]; then
    AF_OS_ID=$(. /etc/os-release; printf '%s' "${ID:-unknown}")
    AF_OS_LIKE=$(. /etc/os-release; printf '%s' "${ID_LIKE:-}")
    af_ver=$(. /etc/os-release; printf '%s' "${VERSION_ID:-}")
  fi
  AF_INIT=none; [ -d /run/systemd/system ] && AF_INIT=systemd
  AF_PROC_SYS=ro; [ -w /proc/sys/kernel/hostname ] && AF_PROC_SYS=rw
  printf 'AMIFORGE-FACTS {"os_id":"%s","os_like":"%s","os_version":"%s","kernel":"%s","arch":"%s","init":"%s","proc_sys":"%s"}\n' \
    "$(af_json "$AF_OS_ID")" "$(af_json "$AF_OS_LIKE")" "$(af_json "$af_ver")" "$(af_json "$(uname -r)")" "$(af_json "$(uname -m)")" "$AF_INIT" "$AF_PROC_SYS"
}

af_inventory() {
  if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f '${db:Status-Status}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n' 2>/dev/null |
      awk -F '\t' '$1 == "installed" { printf "AMIFORGE-PKG deb\t%s\t%s\t%s\t%s\t%s\n", $2, $3, $4, $5, $6 }'
  elif command -v rpm >/dev/null 2>&1; then
    rpm -qa --qf 'AMIFORGE-PKG rpm\t%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\n' 2>/dev/null
  fi
}

# Receives the evidence archive (report + SBOM) on stdin and installs it under @LINUX_EVIDENCE_DIR@.
af_evidence() {
  printf 'AMIFORGE-AWAIT-EVIDENCE\n'
  af_t=$(mktemp -d /etc/.amiforge-evidence.XXXXXX) || return 1
  if tar -x -f - -C "$af_t" && [ -s "$af_t/@REPORT_FILE@" ]; then
    mkdir -p @LINUX_EVIDENCE_DIR@ && chmod 0755 @LINUX_EVIDENCE_DIR@
    for af_f in "$af_t"/*; do chmod 0644 "$af_f"; mv -f "$af_f" @LINUX_EVIDENCE_DIR@/; done
    rm -rf "$af_t"
    return 0
  fi
  rm -rf "$af_t"
  echo "amiforge-harden: no evidence received; @LINUX_EVIDENCE_DIR@ left unchanged" >&2
  return 1
}
