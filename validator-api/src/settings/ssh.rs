//! Where and as whom SSH connects: [`Address`] (`host[:port]`, `[v6]:port`), login names
//! ([`check_user`]) and `user@host[:port]` destinations. Pure parsing shared by the request rules
//! (`guest.ssh_host`, `guest.ssh_username`) and the validator's SSH transport.

/// `host[:port]`, `[v6]:port`: where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub host: String,
    pub port: u16,
}

impl Address {
    /// Parses `host`, `host:port`, `[v6addr]` or `[v6addr]:port` (default port 22).
    pub fn parse(s: &str) -> Result<Address, String> {
        let s = s.trim();
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("{s:?}: an IPv6 address needs its closing ']'"))?;
            match after {
                "" => (h, None),
                p => (
                    h,
                    Some(
                        p.strip_prefix(':')
                            .ok_or_else(|| format!("{s:?}: write [address]:port"))?,
                    ),
                ),
            }
        } else if s.matches(':').count() == 1 {
            let (h, p) = s.split_once(':').unwrap_or((s, ""));
            (h, Some(p))
        } else {
            (s, None)
        };
        if host.is_empty()
            || host
                .chars()
                .any(|c| c.is_whitespace() || c == '@' || c == '/' || c == '\'')
            || host.starts_with('-')
        {
            return Err(format!("{s:?}: not a host name or address"));
        }
        let port = match port {
            None => 22,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("{s:?}: {p:?} is not a port (1-65535)"))?,
        };
        Ok(Address {
            host: host.to_string(),
            port,
        })
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `user@host[:port]`.
pub fn parse_destination(s: &str) -> Result<(String, Address), String> {
    let (user, addr) = s
        .split_once('@')
        .ok_or_else(|| format!("{s:?}: write user@host[:port]"))?;
    check_user(user).map_err(|e| format!("{s:?}: {e}"))?;
    Ok((user.to_string(), Address::parse(addr)?))
}

/// A login name ssh will take as one argument.
pub fn check_user(user: &str) -> Result<(), String> {
    if user.is_empty()
        || user.starts_with('-')
        || !user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(format!(
            "{user:?} is not a login name (letters, digits, '.', '_', '-')"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_with_and_without_ports() {
        let a = |s| Address::parse(s).unwrap();
        assert_eq!(
            a("10.0.0.1"),
            Address {
                host: "10.0.0.1".into(),
                port: 22
            }
        );
        assert_eq!(a("bastion.example:2222").port, 2222);
        assert_eq!(a("[::1]:2200").host, "::1");
        assert_eq!(a("[::1]:2200").port, 2200);
        assert_eq!(a("[::1]").port, 22);
        assert_eq!(a("[::1]:2200").to_string(), "[::1]:2200");
        assert_eq!(a("::1").host, "::1");
        for bad in ["", "host:0", "host:x", "-oProxyCommand=x", "a b", "[::1"] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn destinations_need_a_user() {
        let (u, a) = parse_destination("admin@127.0.0.1:2222").unwrap();
        assert_eq!((u.as_str(), a.port), ("admin", 2222));
        assert!(parse_destination("127.0.0.1").is_err());
        assert!(parse_destination("-x@host").is_err());
        assert!(parse_destination("a b@host").is_err());
    }
}
