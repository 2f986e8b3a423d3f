//! `#[relive_worker::context]` on a trait with every kind of method: reads are recorded and
//! answered from the tape, writes reach the host, and reads that cannot be recorded refuse the
//! recording with the method's name.
#![allow(missing_docs)]

use relive_worker::Interface;
use relive_worker::tape::Tape;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mouse {
    x: f32,
    y: f32,
}

/// No serde impls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Handle(u32);

#[relive_worker::context(files = ["tests/context.rs"])]
pub trait Context {
    fn mouse(&self) -> Mouse;
    fn pressed(&self, key: char) -> bool;
    fn rand(&mut self) -> u32;
    fn draw(&mut self, text: &str);
    fn unit(&mut self) -> ();
    fn handle(&self) -> Handle;
    fn name(&self) -> &str;
    fn fill(&self, buf: &mut Vec<u8>);
    fn twice(&self) -> u32 {
        2 * self.pressed('x') as u32
    }
    fn sized_only(&self) -> u8
    where
        Self: Sized,
    {
        7
    }
}

#[derive(Default)]
struct Host {
    mouse: f32,
    rng: u32,
    drawn: Vec<String>,
}

impl Context for Host {
    fn mouse(&self) -> Mouse {
        Mouse {
            x: self.mouse,
            y: -self.mouse,
        }
    }
    fn pressed(&self, key: char) -> bool {
        key == 'x' && self.mouse > 1.0
    }
    fn rand(&mut self) -> u32 {
        self.rng = self.rng.wrapping_mul(1_103_515_245).wrapping_add(12345);
        self.rng
    }
    fn draw(&mut self, text: &str) {
        self.drawn.push(text.to_owned());
    }
    fn unit(&mut self) {}
    fn handle(&self) -> Handle {
        Handle(1)
    }
    fn name(&self) -> &str {
        "host"
    }
    fn fill(&self, buf: &mut Vec<u8>) {
        buf.push(1);
    }
}

/// A worker's frame: reads, then draws what it read.
fn frame(ctx: &mut dyn Context) -> String {
    let m = ctx.mouse();
    let r = ctx.rand();
    let line = format!("{} {} {} {}", m.x, ctx.pressed('x'), ctx.twice(), r % 1000);
    ctx.draw(&line);
    line
}

fn taped(host: &mut Host, tape: &Tape, mut f: impl FnMut(&mut dyn Context)) {
    <dyn Context as Interface>::with_tape(host, tape, &mut |ctx| f(ctx));
}

#[test]
fn a_replay_feeds_the_recorded_reads_back_and_lets_writes_through() {
    assert_eq!(
        <dyn Context as Interface>::TAPE,
        Some(
            &[
                "mouse", "pressed", "rand", "draw", "unit", "handle", "name", "fill", "twice"
            ][..]
        )
    );
    let mut host = Host::default();
    let tape = Tape::recording(<dyn Context as Interface>::TAPE.unwrap());
    let mut recorded = Vec::new();
    for i in 0..4 {
        host.mouse = i as f32;
        tape.begin_frame();
        taped(&mut host, &tape, |ctx| recorded.push(frame(ctx)));
    }
    assert_eq!(tape.finish(), Ok(4));
    assert_eq!(host.drawn, recorded);

    // The host moves on (other mouse, other random numbers); the replay does not see it.
    host.mouse = 99.0;
    host.drawn.clear();
    for pass in 0..2 {
        let mut replayed = Vec::new();
        for i in 0..4 {
            tape.seek(i);
            taped(&mut host, &tape, |ctx| replayed.push(frame(ctx)));
        }
        assert_eq!(replayed, recorded, "pass {pass}");
    }
    // Writes reached the host on each pass.
    assert_eq!(host.drawn.len(), 8);
    assert!(tape.take_live_reads().is_empty());
}

/// A read the worker makes.
type Read = fn(&mut dyn Context);

#[test]
fn reads_that_cannot_be_recorded_still_work_but_refuse_the_recording() {
    let cases: [(Read, &str); 3] = [
        (
            |ctx| assert_eq!(ctx.handle(), Handle(1)),
            "`handle`, which returns `",
        ),
        (
            |ctx| assert_eq!(ctx.name(), "host"),
            "`name`, which returns `& str`, a borrowed",
        ),
        (
            |ctx| {
                let mut buf = Vec::new();
                ctx.fill(&mut buf);
                assert_eq!(buf, [1]);
            },
            "`fill`, which takes `buf: & mut Vec < u8 >`, which the host may write into",
        ),
    ];
    for (read, why) in cases {
        let mut host = Host::default();
        let tape = Tape::recording(<dyn Context as Interface>::TAPE.unwrap());
        tape.begin_frame();
        taped(&mut host, &tape, |ctx| {
            ctx.draw("fine");
            read(ctx);
        });
        let refused = tape.finish().unwrap_err();
        assert!(refused.contains(why), "{refused}");
        assert_eq!(host.drawn, ["fine"]);
    }
}
