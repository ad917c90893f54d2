//! Which requests the preview answers: only those addressed to it. A page on another site can
//! point a name it controls at 127.0.0.1 (DNS rebinding) and read whatever answers there, so
//! a request whose `Host` is not the address the preview bound (or a loopback name for it, or
//! a name given with `--allow-host`) is refused, as is one without a `Host` (HTTP/1.1 requires
//! one) and one whose `Origin` is another site's. Vite and webpack-dev-server refuse unknown
//! hosts for the same reason.

use std::collections::BTreeSet;
use std::net::SocketAddr;

/// The hosts (`name:port`, lower case) the preview answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPolicy {
    allowed: BTreeSet<String>,
    port: u16,
}

/// Why a request was refused, for the one-line explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    NoHost,
    Host(String),
    Origin(String),
}

impl HostPolicy {
    /// The bound address, the loopback names for its port, and `extra` names (with or without
    /// a port; without one, the bound port).
    pub fn new(bound: SocketAddr, extra: &[String]) -> HostPolicy {
        let port = bound.port();
        let mut allowed = BTreeSet::new();
        let with_port = |host: &str| -> String {
            if host.starts_with('[') || host.matches(':').count() > 1 {
                // An IPv6 address.
                let bare = host.trim_start_matches('[').trim_end_matches(']');
                format!("[{bare}]:{port}")
            } else {
                format!("{host}:{port}")
            }
        };
        allowed.insert(with_port(&bound.ip().to_string()));
        for name in ["127.0.0.1", "localhost", "[::1]"] {
            allowed.insert(with_port(name));
        }
        for name in extra {
            let name = name.trim().to_ascii_lowercase();
            let has_port = name
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.ends_with(':') && port.parse::<u16>().is_ok())
                && (!name.contains('[') || name.contains("]:"));
            allowed.insert(if has_port { name } else { with_port(&name) });
        }
        HostPolicy { allowed, port }
    }

    /// The hosts answered, for messages.
    pub fn hosts(&self) -> Vec<&str> {
        self.allowed.iter().map(String::as_str).collect()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn allows_host(&self, host: &str) -> bool {
        self.allowed.contains(&host.trim().to_ascii_lowercase())
    }

    /// Decides on a request's `Host` (or the authority of an absolute URI) and `Origin`.
    pub fn check(&self, host: Option<&str>, origin: Option<&str>) -> Result<(), Refused> {
        let Some(host) = host.filter(|h| !h.trim().is_empty()) else {
            return Err(Refused::NoHost);
        };
        if !self.allows_host(host) {
            return Err(Refused::Host(host.to_owned()));
        }
        if let Some(origin) = origin {
            let own = origin
                .strip_prefix("http://")
                .is_some_and(|rest| self.allows_host(rest));
            if !own {
                return Err(Refused::Origin(origin.to_owned()));
            }
        }
        Ok(())
    }

    /// The one-line explanation sent with a refusal.
    pub fn explain(&self, refused: &Refused) -> String {
        let hosts = self.hosts().join(", ");
        match refused {
            Refused::NoHost => {
                format!("this preview answers requests with a Host header for {hosts} only")
            }
            Refused::Host(host) => format!(
                "this preview answers requests for {hosts}, not {host}; start it with --allow-host {} to serve that name",
                host.rsplit_once(':')
                    .map_or(host.as_str(), |(name, _)| name)
            ),
            Refused::Origin(origin) => {
                format!("this preview answers its own pages only, not requests from {origin}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> HostPolicy {
        HostPolicy::new("127.0.0.1:8000".parse().unwrap(), &[])
    }

    #[test]
    fn loopback_names_of_the_bound_port_are_answered() {
        let policy = loopback();
        for host in [
            "127.0.0.1:8000",
            "localhost:8000",
            "LOCALHOST:8000",
            "[::1]:8000",
        ] {
            assert_eq!(policy.check(Some(host), None), Ok(()), "{host}");
        }
    }

    #[test]
    fn other_hosts_ports_and_missing_hosts_are_refused() {
        let policy = loopback();
        for host in [
            "evil.example",
            "evil.example:8000",
            "localhost:8001",
            "127.0.0.1",
            "localhost.evil.example:8000",
        ] {
            assert!(
                matches!(policy.check(Some(host), None), Err(Refused::Host(_))),
                "{host}"
            );
        }
        assert_eq!(policy.check(None, None), Err(Refused::NoHost));
        assert_eq!(policy.check(Some(" "), None), Err(Refused::NoHost));
    }

    #[test]
    fn only_the_previews_own_origin_is_answered() {
        let policy = loopback();
        assert_eq!(
            policy.check(Some("localhost:8000"), Some("http://localhost:8000")),
            Ok(())
        );
        for origin in [
            "http://evil.example",
            "https://localhost:8000",
            "null",
            "http://localhost:8001",
        ] {
            assert!(
                matches!(
                    policy.check(Some("localhost:8000"), Some(origin)),
                    Err(Refused::Origin(_))
                ),
                "{origin}"
            );
        }
    }

    #[test]
    fn a_lan_address_answers_its_own_address_and_allowed_names() {
        let policy = HostPolicy::new(
            "0.0.0.0:9000".parse().unwrap(),
            &["preview.ward.local".to_owned(), "10.0.0.5:9000".to_owned()],
        );
        assert_eq!(policy.check(Some("0.0.0.0:9000"), None), Ok(()));
        assert_eq!(policy.check(Some("preview.ward.local:9000"), None), Ok(()));
        assert_eq!(policy.check(Some("10.0.0.5:9000"), None), Ok(()));
        assert!(policy.check(Some("10.0.0.6:9000"), None).is_err());
        assert!(
            policy
                .explain(&Refused::Host("10.0.0.6:9000".into()))
                .contains("--allow-host 10.0.0.6")
        );
    }
}
