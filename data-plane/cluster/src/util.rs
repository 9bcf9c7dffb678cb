//! Small helpers shared by every daemon: human units and secrets.

use std::path::Path;

/// Parses a byte size such as `4096`, `64MiB`, `10GiB` or `1GB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("bad size {s:?}"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        u => return Err(format!("unknown size unit {u:?} in {s:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} overflows"))
}

/// Reads a secret given either inline or as a file. A secret file must not
/// be readable by group or others.
pub fn load_secret(
    inline: Option<&str>,
    file: Option<&Path>,
    what: &str,
) -> Result<String, String> {
    match (inline, file) {
        (Some(s), _) if !s.is_empty() => Ok(s.to_string()),
        (_, Some(p)) => {
            check_private(p, &format!("{what} file"))?;
            let s = std::fs::read_to_string(p)
                .map_err(|e| format!("{what} file {}: {e}", p.display()))?;
            let s = s.trim().to_string();
            if s.is_empty() {
                return Err(format!("{what} file {} is empty", p.display()));
            }
            Ok(s)
        }
        _ => Err(format!("no {what} given")),
    }
}

/// Refuses a file holding a secret (a key, a password, a token) that
/// group or others may read, or that cannot be read at all; `what` names
/// it in the error.
pub fn check_private(path: &Path, what: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{what} {} is readable by group or others (chmod 600 it)",
            path.display()
        ));
    }
    Ok(())
}

/// This machine's host name (the kernel's), or `localhost` when unknown.
pub fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert!(parse_size("12XB").is_err());
        assert!(parse_size("GiB").is_err());
        assert!(parse_size("99999999999TiB").is_err());
    }

    #[test]
    fn world_readable_secret_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s");
        std::fs::write(&p, "abc\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_secret(None, Some(&p), "secret").is_err());
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(load_secret(None, Some(&p), "secret").unwrap(), "abc");
        assert_eq!(load_secret(Some("x"), Some(&p), "secret").unwrap(), "x");
        assert!(load_secret(None, None, "secret").is_err());
    }
}
