//! The hello worker: edit `update`, run `cargo build -p hello-worker`, watch the host pick it up
//! with `frames` still counting.

use hello_base::Context;
use serde::{Deserialize, Serialize};

/// Everything here survives a reload.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    frames: u64,
}

fn update(ctx: &mut dyn Context, state: &mut State) {
    state.frames += 1;
    ctx.show(&format!(
        "hello from the worker: frame {} at {:.1}s",
        state.frames,
        ctx.time()
    ));
}

relive_worker::export! {
    state: State,
    context: dyn Context,
    update: update,
}
