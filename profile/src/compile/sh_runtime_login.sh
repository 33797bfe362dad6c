
# --- amiforge-harden runtime, part 2: how people get in. sshd algorithm lists computed for the
# target, PAM modules put in the stacks by the distribution's own tool, and the umask a login
# shell really gets. Same conventions as part 1 (AF_VALUE, AF_DETAIL, return codes 0-4).

# --- sshd algorithm lists ---------------------------------------------------------------------------
af_algs_match() { # alg "patterns" (sh globs) -> 0 when one matches
  set -f
  for af_p in $2; do
    case $1 in $af_p) set +f; return 0 ;; esac
  done
  set +f
  return 1
}

# What this sshd supports for a setting, its default preference order first (sshd -T of an empty
# configuration), then the rest in `ssh -Q` order; one per line.
af_algs_supported() { # query key
  af_all=$(ssh -Q "$1" 2>/dev/null)
  { sshd -T -f /dev/null 2>/dev/null | awk -v k="$(af_lower "$2")" '$1 == k { print $2; exit }' | tr ',' '\n' |
      while read -r af_a; do printf '%s\n' "$af_all" | grep -Fxq -- "$af_a" && printf '%s\n' "$af_a"; done
    printf '%s\n' "$af_all"; } | awk 'NF && !seen[$0]++'
}

af_algs_check() { # key query allow keep
  command -v sshd >/dev/null 2>&1 || { AF_DETAIL="sshd is not installed"; return 2; }
  af_sshd_value "$1" || return 1
  [ -n "$AF_VALUE" ] || { AF_DETAIL="sshd -T shows no $1"; return 1; }
  af_bad=; af_missing=
  for af_a in $(printf '%s' "$AF_VALUE" | tr ',' ' '); do
    af_algs_match "$af_a" "$3" || af_bad="$af_bad $af_a"
  done
  if [ -n "$4" ]; then
    for af_a in $(ssh -Q "$2" 2>/dev/null); do
      af_algs_match "$af_a" "$4" || continue
      case ",$AF_VALUE," in *",$af_a,"*) ;; *) af_missing="$af_missing $af_a" ;; esac
    done
  fi
  [ -z "$af_bad" ] || { AF_DETAIL="not allowed:$af_bad"; return 1; }
  [ -z "$af_missing" ] || { AF_DETAIL="supported here but left out:$af_missing"; return 1; }
  return 0
}

af_algs_fix() { # key query allow keep
  af_list=$(af_algs_supported "$2" "$1" | while read -r af_a; do
    af_algs_match "$af_a" "$3" && printf '%s,' "$af_a"; done)
  af_list=${af_list%,}
  [ -n "$af_list" ] || { AF_DETAIL="this sshd supports none of: $3"; return 1; }
  af_sshd_fix "$1" "$af_list" eq
}

# --- PAM stacks ---------------------------------------------------------------------------------------
af_pam_files() { # type -> the stack files that must hold a module of that type
  if command -v pam-auth-update >/dev/null 2>&1 || [ -f /etc/pam.d/common-auth ]; then
    printf '/etc/pam.d/common-%s\n' "$1"
  else
    printf '/etc/pam.d/system-auth\n/etc/pam.d/password-auth\n'
  fi
}

af_pam_in() { # file type module: an active line of that type names MODULE.so
  [ -f "$1" ] && awk -v t="$2" -v m="$3" '
    { l = $0; sub(/^[ \t]+/, "", l) } l ~ /^#/ { next }
    { ty = $1; sub(/^-/, "", ty) }
    ty == t { for (i = 2; i <= NF; i++) { f = $i; sub(/.*\//, "", f); if (f == m ".so") found = 1 } }
    END { exit !found }' "$1"
}

af_pam_module_file() { # module: is MODULE.so installed?
  for af_d in /lib/*/security /lib/security /lib64/security /usr/lib/*/security /usr/lib/security /usr/lib64/security; do
    [ -f "$af_d/$1.so" ] && return 0
  done
  return 1
}

af_pam_check() { # module types enable feature packages
  af_miss=
  for af_t in $2; do
    for af_f in $(af_pam_files "$af_t"); do
      af_pam_in "$af_f" "$af_t" "$1" || af_miss="$af_miss $af_t (${af_f##*/})"
    done
  done
  if [ -z "$af_miss" ]; then AF_VALUE="in $2"; return 0; fi
  AF_VALUE="missing from$af_miss"; AF_DETAIL="$1 is not in the stack of$af_miss"
  return 1
}

# Writes the pam-configs profiles given as AF_PAMCFG_<name>, then enables every named profile.
af_pam_enable() { # names
  for af_n in $1; do
    eval "af_txt=\${AF_PAMCFG_$(af_var "$af_n")-}"
    [ -n "$af_txt" ] || continue
    printf '%s\n' "$af_txt" | af_replace "/usr/share/pam-configs/$af_n" 0644 || return 1
  done
  # shellcheck disable=SC2086
  pam-auth-update --enable $1 || { AF_DETAIL="pam-auth-update --enable $1 failed"; return 1; }
}

af_pam_fix() { # module types enable feature packages
  if [ -n "$5" ] && ! af_pam_module_file "$1"; then
    # shellcheck disable=SC2086
    af_pkg_present_fix $5 || return 1
  fi
  if command -v pam-auth-update >/dev/null 2>&1; then
    [ -n "$3" ] || { AF_DETAIL="no pam-auth-update profile is named for $1"; return 1; }
    af_pam_enable "$3"
  elif command -v authselect >/dev/null 2>&1; then
    [ -n "$4" ] || { AF_DETAIL="no authselect feature is named for $1"; return 1; }
    authselect current >/dev/null 2>&1 ||
      { AF_DETAIL="authselect does not manage this system's PAM; add $1 to the $2 stack with your own tooling"; return 1; }
    authselect enable-feature "$4" && authselect apply-changes
  else
    AF_DETAIL="neither pam-auth-update nor authselect is here; add $1 to the $2 stack with your own tooling"
    return 1
  fi
}

# --- the umask a login shell gets -------------------------------------------------------------------
af_umask_check() { # value enable
  af_ld=$(af_cfg_get /etc/login.defs UMASK space)
  af_um=
  if command -v su >/dev/null 2>&1 && getent passwd nobody >/dev/null 2>&1; then
    # nobody has no private group, so pam_umask's usergroups rule does not loosen the group bits
    af_um=$(su -l -s /bin/sh nobody -c umask </dev/null 2>/dev/null | tail -n 1)
  fi
  AF_VALUE="login shell ${af_um:-not run}, login.defs ${af_ld:-unset}"
  case $af_um in
    ''|*[!0-7]*)
      af_compare "$af_ld" "$1" eq || { AF_DETAIL="UMASK is ${af_ld:-unset} in /etc/login.defs"; return 1; }
      AF_DETAIL="no login shell can be started here (su, nobody); configured in /etc/login.defs"
      return 4 ;;
  esac
  [ $(( 0$af_um & 0$1 )) -eq $(( 0$1 )) ] && return 0
  AF_DETAIL="a login shell gets umask $af_um"
  return 1
}

af_umask_fix() { # value enable
  af_cfg_fix /etc/login.defs UMASK "$1" space eq || return 1
  if command -v pam-auth-update >/dev/null 2>&1; then
    af_pam_in /etc/pam.d/common-session session pam_umask && return 0
    [ -n "$2" ] || { AF_DETAIL="pam_umask is not in the session stack and no pam-configs profile is named"; return 1; }
    af_pam_enable "$2"
  else
    printf '%s\numask %s\n' "$AF_TAG" "$1" | af_replace /etc/profile.d/90-amiforge-umask.sh 0644
  fi
}
