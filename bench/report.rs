//! Shared by the benchmarks: the machine line and the rewriting of one section of
//! docs/PERFORMANCE.md, between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`.

/// The CPU model from /proc/cpuinfo.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// `N cores, CPU` of this machine.
pub fn machine() -> String {
    format!(
        "{} cores, {}",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        cpu_model()
    )
}

/// Replaces (or appends) the section `name` of docs/PERFORMANCE.md with `report`.
pub fn write_section(name: &str, report: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PERFORMANCE.md");
    let begin = format!("<!-- bench:{name} -->");
    let end = format!("<!-- /bench:{name} -->");
    let current = std::fs::read_to_string(path).unwrap_or_default();
    let section = format!("{begin}\n{report}{end}");
    let updated = match (current.find(&begin), current.find(&end)) {
        (Some(a), Some(b)) if a < b => {
            format!("{}{section}{}", &current[..a], &current[b + end.len()..])
        }
        _ => format!("{current}\n{section}\n"),
    };
    if let Err(e) = std::fs::write(path, updated) {
        eprintln!("cannot write {path}: {e}");
    }
}
