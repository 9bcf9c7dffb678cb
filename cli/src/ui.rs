//! Output for people: sizes, dates, tables, progress bars, confirmations.

use anyhow::bail;

use crate::Output;

pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration as the guide writes it: `2h 15m`, `4m 10s`, `12s`.
pub(crate) fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// A size in IEC units, as the flags take them (`2 GiB` is `2.0 GiB`).
pub(crate) fn human(b: u64) -> String {
    objectio_api::iec(b)
}

/// `used` of `total` as a percentage: one decimal under 10 %, whole above.
pub(crate) fn percent(used: u64, total: u64) -> String {
    if total == 0 {
        return "0%".into();
    }
    let p = used as f64 * 100.0 / total as f64;
    if p < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{}%", p.floor() as u64)
    }
}

/// The local time offset, read before any thread starts (reading it later
/// is refused on Linux).
pub(crate) static LOCAL_OFFSET: std::sync::OnceLock<time::UtcOffset> = std::sync::OnceLock::new();

/// An RFC 3339 date from the API as local `YYYY-MM-DD HH:MM`.
pub(crate) fn local_date(rfc3339: &str) -> String {
    let Ok(t) =
        time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
    else {
        return rfc3339.to_string();
    };
    let t = t.to_offset(*LOCAL_OFFSET.get().unwrap_or(&time::UtcOffset::UTC));
    t.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]"
    ))
    .unwrap_or_else(|_| rfc3339.to_string())
}

/// A name as one URL path segment (percent-encoded where needed).
pub(crate) fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Asks before something that cannot be undone: the operator types
/// `expected` on a terminal; without one (a script), it is refused and
/// `--yes` named.
pub(crate) fn confirm(question: &str, expected: &str) -> anyhow::Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        bail!("{question}\nrefusing without confirmation: not a terminal; pass --yes to go ahead");
    }
    eprint!("{question}\nType {expected:?} to confirm: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != expected {
        bail!("not confirmed: nothing done");
    }
    Ok(())
}

pub(crate) fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let fmt = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{:<w$}", c, w = w[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
            + "\n"
    };
    let mut out = fmt(headers.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out += &fmt(r);
    }
    out
}

pub(crate) fn print<T: serde::Serialize>(o: Output, v: &T, human: impl FnOnce(&T) -> String) {
    match o {
        Output::Json => println!("{}", serde_json::to_string_pretty(v).expect("serialises")),
        Output::Table => print!("{}", human(v)),
    }
}

/// `[#####-----] 42% (4,200 of 10,000 objects), 35.2 MiB/s, ETA 3m 10s`.
/// A progress line redrawn in place on a terminal (one line per draw
/// otherwise).
pub(crate) struct Bar {
    pub(crate) tty: bool,
    pub(crate) drawn: bool,
}

impl Bar {
    pub(crate) fn new() -> Self {
        use std::io::IsTerminal;
        Self {
            tty: std::io::stdout().is_terminal(),
            drawn: false,
        }
    }

    pub(crate) fn draw(&mut self, line: &str) -> anyhow::Result<()> {
        use std::io::Write;
        if self.tty {
            print!("\r{line}\x1b[K");
            std::io::stdout().flush()?;
        } else {
            println!("{line}");
        }
        self.drawn = true;
        Ok(())
    }

    pub(crate) fn done(&self) {
        if self.tty && self.drawn {
            println!();
        }
    }
}

/// A mover's progress: a bar over bytes, objects and bytes left, rate, ETA.
pub(crate) fn moves_line(
    objects_left: Option<u64>,
    bytes_left: Option<u64>,
    moved_objects: u64,
    moved_bytes: u64,
    rate: u64,
    eta: Option<u64>,
) -> String {
    const WIDTH: u64 = 30;
    let (Some(ol), Some(bl)) = (objects_left, bytes_left) else {
        return format!(
            "counting what to move... ({} objects, {} moved so far)",
            thousands(moved_objects),
            human(moved_bytes)
        );
    };
    let total = (moved_bytes + bl).max(1);
    let done = (moved_bytes * WIDTH / total).min(WIDTH);
    format!(
        "[{}{}] {}% {} objects ({}) left, {} moved, {}/s, ETA {}",
        "#".repeat(done as usize),
        "-".repeat((WIDTH - done) as usize),
        moved_bytes * 100 / total,
        thousands(ol),
        human(bl),
        human(moved_bytes),
        human(rate),
        eta.map(duration).unwrap_or_else(|| "unknown".into())
    )
}
