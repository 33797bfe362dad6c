//! Running a payload (the audit script, a user's command) as root through any transport, and
//! reading guest files byte-exact. The payload is wrapped: it runs from a private temp dir with
//! stdin closed, and its exit code comes back on an end marker, so output that stops early
//! (a dropped connection, sudo refusing, a cut SSM answer) is an error rather than a result.
//! Transports with an output limit (SSM) keep the output on the guest and read it in
//! base64 pieces that fit the limit; files are read the same way.

use amiforge_profile::compile::sh::quote;
use base64::Engine;

use super::transport::{Output, Transport, last_line};

const BEGIN: &str = "AMIFORGE-GUEST-BEGIN";
const END: &str = "AMIFORGE-GUEST-END";
const STAGED: &str = "AMIFORGE-GUEST-STAGED";
const FILE: &str = "AMIFORGE-FILE";
const FILE_MISSING: &str = "AMIFORGE-FILE-MISSING";
const FILE_END: &str = "AMIFORGE-FILE-END";
/// Where the wrapper stages its work (a fresh `mktemp -d` below it each time).
const STAGE_PREFIX: &str = "/tmp/amiforge-validator.";

/// A here-document delimiter that is no line of `payload`.
fn delimiter(payload: &str) -> String {
    let h = amiforge_model::sha256_hex(payload.as_bytes());
    let mut d = format!("AMIFORGE_PAYLOAD_{}", &h[..16]);
    while payload.lines().any(|l| l == d) {
        d.push('_');
    }
    d
}

/// The wrapper script around `payload`. `inline`: print the output between markers; else keep
/// it on the guest and print where. `drop_inventory` leaves out the audit's package lines.
pub fn wrap(payload: &str, inline: bool, drop_inventory: bool) -> String {
    let d = delimiter(payload);
    let body = if payload.ends_with('\n') || payload.is_empty() {
        payload.to_string()
    } else {
        format!("{payload}\n")
    };
    let filter = if drop_inventory {
        "grep -v '^AMIFORGE-PKG '"
    } else {
        "cat"
    };
    let finish = if inline {
        format!(
            "printf '%s\\n' {BEGIN}\n{filter} \"$af_d/out\"\ncat \"$af_d/err\" >&2\nrm -rf \"$af_d\"\nprintf '\\n%s %s\\n' {END} \"$af_rc\"\n"
        )
    } else {
        format!(
            "{filter} \"$af_d/out\" > \"$af_d/stdout\"\nprintf '%s %s %s %s %s\\n' {STAGED} \"$af_rc\" \"$(wc -c < \"$af_d/stdout\")\" \"$(wc -c < \"$af_d/err\")\" \"$af_d\"\n"
        )
    };
    format!(
        "umask 077\n\
         [ \"$(id -u)\" = 0 ] || {{ echo 'amiforge-validator: not running as root (sudo -n refused?)' >&2; exit 125; }}\n\
         af_d=$(mktemp -d {STAGE_PREFIX}XXXXXXXX) || {{ echo 'amiforge-validator: mktemp failed' >&2; exit 125; }}\n\
         cat > \"$af_d/run.sh\" <<'{d}'\n{body}{d}\n\
         ( cd / && sh \"$af_d/run.sh\" ) </dev/null >\"$af_d/out\" 2>\"$af_d/err\"\n\
         af_rc=$?\n{finish}"
    )
}

fn incomplete(t: &impl Transport, o: &Output) -> String {
    format!(
        "{}: the command did not run to its end (exit {}): {}",
        t.describe(),
        o.exit,
        last_line(&o.stderr)
    )
}

/// The payload's own output from an inline run.
fn parse_inline(o: &Output) -> Option<Output> {
    let begin = format!("{BEGIN}\n");
    let start = if o.stdout.starts_with(&begin) {
        begin.len()
    } else {
        o.stdout.find(&format!("\n{begin}"))? + 1 + begin.len()
    };
    let rest = &o.stdout[start..];
    let end = rest.rfind(&format!("\n{END} "))?;
    let tail = rest[end + 1 + END.len() + 1..].trim_end();
    let exit = tail.parse::<i32>().ok()?;
    Some(Output {
        exit,
        stdout: rest[..end].to_string(),
        stderr: o.stderr.clone(),
    })
}

/// Runs `payload` with `sh` as root; its exit code and output, whole.
pub async fn run_root<T: Transport>(
    t: &T,
    payload: &str,
    drop_inventory: bool,
) -> Result<Output, String> {
    let inline = t.output_limit().is_none();
    let o = t.run(&wrap(payload, inline, drop_inventory)).await?;
    if inline {
        return parse_inline(&o).ok_or_else(|| incomplete(t, &o));
    }
    // STAGED rc out-bytes err-bytes dir
    let line = o
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix(STAGED).map(str::trim))
        .ok_or_else(|| incomplete(t, &o))?;
    let f: Vec<&str> = line.split_whitespace().collect();
    let (Some(rc), Some(dir)) = (f.first().and_then(|x| x.parse::<i32>().ok()), f.get(3)) else {
        return Err(format!("{}: unreadable answer {line:?}", t.describe()));
    };
    if f.len() != 4
        || !dir.starts_with(STAGE_PREFIX)
        || !dir[STAGE_PREFIX.len()..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric())
    {
        return Err(format!("{}: unreadable answer {line:?}", t.describe()));
    }
    let stdout = read_file(t, &format!("{dir}/stdout")).await;
    let stderr = read_file(t, &format!("{dir}/err")).await;
    let cleaned = t.run(&format!("rm -rf -- {}\n", quote(dir))).await;
    if let Err(e) = cleaned {
        tracing::warn!(guest = %t.describe(), error = %e, "could not remove the staging directory");
    }
    let missing =
        |what: &str| format!("{}: {dir}/{what} vanished before it was read", t.describe());
    Ok(Output {
        exit: rc,
        stdout: String::from_utf8_lossy(&stdout?.ok_or_else(|| missing("stdout"))?).into_owned(),
        stderr: String::from_utf8_lossy(&stderr?.ok_or_else(|| missing("err"))?).into_owned(),
    })
}

/// Raw bytes per piece so one piece's base64 (76-character lines) plus headers fits `limit`.
fn piece_size(limit: usize) -> usize {
    let chars = limit.saturating_sub(512) * 76 / 77;
    (chars / 4 * 3).max(3)
}

/// The exact bytes of `path` on the guest (read as root); `None` when it does not exist.
pub async fn read_file<T: Transport>(t: &T, path: &str) -> Result<Option<Vec<u8>>, String> {
    let piece = t.output_limit().map(piece_size);
    let q = quote(path);
    let mut data: Vec<u8> = Vec::new();
    let mut size: Option<usize> = None;
    loop {
        let read = match piece {
            None => format!("base64 < {q}"),
            Some(n) => format!("tail -c +{} {q} | head -c {n} | base64", data.len() + 1),
        };
        let script = format!(
            "if [ ! -e {q} ]; then echo {FILE_MISSING}; exit 0; fi\n\
             [ -f {q} ] && [ -r {q} ] || {{ echo 'amiforge-validator: '{q}' is not a readable file' >&2; exit 3; }}\n\
             printf '%s %s\\n' {FILE} \"$(wc -c < {q})\"\n\
             {read} || exit 4\n\
             echo {FILE_END}\n"
        );
        let o = t.run(&script).await?;
        if o.exit == 0 && o.stdout.lines().any(|l| l == FILE_MISSING) {
            if size.is_some() {
                return Err(format!("{}: {path} vanished while read", t.describe()));
            }
            return Ok(None);
        }
        let mut lines = o.stdout.lines();
        let header = lines.find_map(|l| l.strip_prefix(FILE).map(str::trim));
        let body: Vec<&str> = lines.take_while(|l| *l != FILE_END).collect();
        let ended = o.stdout.lines().any(|l| l == FILE_END);
        let (Some(header), true, 0) = (header, ended, o.exit) else {
            return Err(format!(
                "{}: cannot read {path} (exit {}): {}",
                t.describe(),
                o.exit,
                last_line(&o.stderr)
            ));
        };
        let n: usize = header
            .parse()
            .map_err(|_| format!("{}: bad size {header:?} for {path}", t.describe()))?;
        if size.is_some_and(|s| s != n) {
            return Err(format!("{}: {path} changed while read", t.describe()));
        }
        size = Some(n);
        let b64: String = body.concat().split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| format!("{}: {path}: bad base64 from the guest: {e}", t.describe()))?;
        let got = bytes.len();
        data.extend(bytes);
        if data.len() >= n || piece.is_none() || got == 0 {
            break;
        }
    }
    if Some(data.len()) != size {
        return Err(format!(
            "{}: {path}: read {} of {} bytes",
            t.describe(),
            data.len(),
            size.unwrap_or(0)
        ));
    }
    Ok(Some(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_output_is_what_lies_between_the_markers() {
        let o = Output {
            exit: 0,
            stdout: format!("motd noise\n{BEGIN}\nline 1\nno newline\n{END} 3\n"),
            stderr: "e".into(),
        };
        let p = parse_inline(&o).unwrap();
        assert_eq!((p.exit, p.stdout.as_str()), (3, "line 1\nno newline"));
        // cut before the end marker: no result
        let cut = Output {
            stdout: format!("{BEGIN}\nline 1\n"),
            ..o.clone()
        };
        assert!(parse_inline(&cut).is_none());
        assert!(parse_inline(&Output::default()).is_none());
    }

    #[test]
    fn the_delimiter_never_ends_the_payload_early() {
        let p = "echo hi\n";
        let d = delimiter(p);
        let tricky = format!("echo a\n{d}\necho b\n");
        let d2 = delimiter(&tricky);
        assert!(!tricky.lines().any(|l| l == d2));
        let w = wrap(&tricky, true, false);
        assert_eq!(w.lines().filter(|l| *l == d2).count(), 1, "{w}");
    }

    #[test]
    fn pieces_fit_the_limit_once_encoded() {
        let n = piece_size(24_000);
        let encoded = n.div_ceil(3) * 4;
        assert!(encoded + encoded / 76 + 512 <= 24_000, "{n}");
        assert!(n > 16_000, "{n}");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
