use std::time::{Instant, Duration};
use std::os::fd::AsFd;
fn med(mut v: Vec<Duration>) -> f64 { v.sort(); v[v.len()/2].as_secs_f64()*1e3 }
fn scan_procfs() -> usize {
    let mut n = 0;
    for p in procfs::process::all_processes().unwrap().flatten() {
        if let Ok(fds) = p.fd() { for f in fds.flatten() { if let procfs::process::FDTarget::Path(t) = &f.target { if t.file_name() == Some(std::ffi::OsStr::new("zzz")) { n += 1; } } } }
    }
    n
}
fn scan_rustix() -> usize {
    use rustix::fs::{openat, OFlags, Mode, Dir, readlinkat, CWD};
    let mut n = 0;
    let proc_ = openat(CWD, "/proc", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).unwrap();
    let dir = Dir::read_from(&proc_).unwrap();
    let mut buf = Vec::with_capacity(256);
    for e in dir.flatten() {
        let name = e.file_name().to_bytes();
        if name.is_empty() || !name.iter().all(|b| b.is_ascii_digit()) { continue; }
        let mut path = name.to_vec(); path.extend_from_slice(b"/fd");
        let Ok(fdd) = openat(&proc_, std::ffi::CString::new(path).unwrap().as_c_str(), OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()) else { continue };
        let Ok(fds) = Dir::read_from(&fdd) else { continue };
        for f in fds.flatten() {
            let fname = f.file_name();
            if fname.to_bytes().starts_with(b".") { continue; }
            buf.clear();
            if let Ok(l) = readlinkat(fdd.as_fd(), fname, std::mem::take(&mut buf)) { if l.as_bytes().ends_with(b"/zzz") { n += 1; } buf = l.into_bytes(); }
        }
    }
    n
}
fn main() {
    let mut sleepers = vec![];
    for _ in 0..220 { sleepers.push(std::process::Command::new("sleep").arg("100").stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap()); }
    let count = std::fs::read_dir("/proc").unwrap().flatten().filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok()).count();
    let mut a = vec![]; let mut b = vec![];
    for _ in 0..30 { let t = Instant::now(); scan_procfs(); a.push(t.elapsed()); let t = Instant::now(); scan_rustix(); b.push(t.elapsed()); }
    println!("{count} procs: procfs {:.2} ms, rustix {:.2} ms", med(a), med(b));
    for mut s in sleepers { let _ = s.kill(); let _ = s.wait(); }
}
