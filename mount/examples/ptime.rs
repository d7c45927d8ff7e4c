use std::io::Read;
use std::time::{Duration, Instant, SystemTime};
fn med(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e6
}
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    let body = vec![b'x'; 2730];
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<openv_mount::OpenRequest>();
    let b2 = body.clone();
    std::thread::spawn(move || {
        while let Some(r) = rx.blocking_recv() {
            r.serve(zeroize::Zeroizing::new(b2.clone()));
        }
    });
    let m = openv_mount::mount(&path, Default::default(), tx).unwrap();
    m.set_content_info(body.len() as u64, SystemTime::now());
    let (mut o, mut r1, mut r2, mut c, mut id) = (vec![], vec![], vec![], vec![], vec![]);
    let mut buf = vec![0u8; 8192];
    for i in 0..3000 {
        let t0 = Instant::now();
        let mut f = std::fs::File::open(&path).unwrap();
        let t1 = Instant::now();
        let n = f.read(&mut buf).unwrap();
        assert_eq!(n, 2730);
        let t2 = Instant::now();
        let n = f.read(&mut buf).unwrap();
        assert_eq!(n, 0);
        let t3 = Instant::now();
        drop(f);
        let t4 = Instant::now();
        if i > 300 {
            o.push(t1 - t0);
            r1.push(t2 - t1);
            r2.push(t3 - t2);
            c.push(t4 - t3);
        }
    }
    for _ in 0..2000 {
        let t = Instant::now();
        let _ = openv_mount::identify(std::process::id() as i32);
        id.push(t.elapsed());
    }
    println!(
        "open {:.1} read {:.1} eof {:.1} close {:.1} | identify(pub) {:.1}",
        med(o),
        med(r1),
        med(r2),
        med(c),
        med(id)
    );
    let p = procfs::process::Process::myself().unwrap();
    let t = |name: &str, f: &dyn Fn()| {
        let mut v = vec![];
        for _ in 0..2000 {
            let s = Instant::now();
            f();
            v.push(s.elapsed());
        }
        println!("{name} {:.1}", med(v));
    };
    t("stat", &|| {
        p.stat().unwrap();
    });
    t("status", &|| {
        p.status().unwrap();
    });
    t("cmdline", &|| {
        p.cmdline().unwrap();
    });
    t("exe", &|| {
        p.exe().unwrap();
    });
    t("Process::new", &|| {
        procfs::process::Process::new(1).unwrap();
    });
    t("pidfd", &|| {
        rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(std::process::id() as i32).unwrap(),
            rustix::process::PidfdFlags::empty(),
        )
        .unwrap();
    });
    m.unmount().unwrap();
}
