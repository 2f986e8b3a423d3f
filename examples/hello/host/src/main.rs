//! The hello host: calls the worker four times a second and prints what it shows, plus one line per
//! reload. `hello-host [FRAMES]` stops after FRAMES frames (default: run until Ctrl-C).

use std::time::{Duration, Instant};

use hello_base::Context;

relive::worker!(type Hello = hello_worker for dyn Context);

struct Host {
    start: Instant,
}

impl Context for Host {
    fn show(&mut self, line: &str) {
        println!("{line}");
    }

    fn time(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

fn main() {
    let frames: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(u64::MAX);
    let mut hello = match Hello::new("hello_worker") {
        Ok(hello) => hello,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let events = hello.subscribe();
    let mut host = Host {
        start: Instant::now(),
    };
    for _ in 0..frames {
        if let Err(e) = hello.update(&mut host) {
            eprintln!("error: {e}");
        }
        while let Ok(event) = events.try_recv() {
            eprintln!(
                "relive: {}",
                serde_json::to_string(&event).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
