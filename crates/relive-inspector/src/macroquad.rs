//! The macroquad front end: [`Overlay`] draws the [`crate::Inspector`] with egui (through
//! egui-miniquad) in macroquad's window, opens and closes it on a key, and keeps the game from
//! also acting on the input the panel takes.
//!
//! In the engine-direct layout the host's `macroquad` is the engine crate's shared copy (one
//! macroquad in the process): this crate's `macroquad` dependency resolves to the same crate, and
//! rustc links it from the engine's library.

#[cfg(not(feature = "static"))]
pub use hot::Overlay;
#[cfg(feature = "static")]
pub use ship::Overlay;

#[cfg(not(feature = "static"))]
mod hot {
    use macroquad::input::utils::{register_input_subscriber, repeat_all_miniquad_input};
    use macroquad::input::{KeyCode, is_key_pressed};
    use macroquad::miniquad as mq;
    use relive::{Error, Interface, Worker};
    use relive_tape::EngineReads;

    use crate::Inspector;

    /// The inspector in macroquad's window: F1 (or [`Overlay::key`]) opens and closes it.
    ///
    /// Each frame: [`Overlay::update`] in place of the game's `update` (it runs the game), then
    /// the host's own drawing, then [`Overlay::draw`]. While the panel is closed it costs one key
    /// check and draining macroquad's input queue for it.
    pub struct Overlay {
        inspector: Inspector,
        key: KeyCode,
        open: bool,
        egui: Option<Egui>,
        reads: Option<&'static EngineReads>,
        keyboard: bool,
        pointer: bool,
    }

    /// egui in macroquad: its context and renderer, and macroquad's input queue for it.
    struct Egui {
        mq: egui_miniquad::EguiMq,
        subscriber: usize,
    }

    impl Default for Overlay {
        fn default() -> Self {
            Overlay::new()
        }
    }

    impl Overlay {
        /// A closed inspector, opened by F1.
        pub fn new() -> Overlay {
            Overlay {
                inspector: Inspector::new(),
                key: KeyCode::F1,
                open: false,
                egui: None,
                reads: None,
                keyboard: false,
                pointer: false,
            }
        }

        /// Opens and closes on `key` instead of F1.
        pub fn key(mut self, key: KeyCode) -> Overlay {
            self.key = key;
            self
        }

        /// Opens at start.
        pub fn opened(mut self) -> Overlay {
            self.open = true;
            self
        }

        /// For a worker that reads macroquad's input itself (the engine-direct layout): the
        /// engine crate's wrapped reads (`base::prelude::RELIVE_READS`), which then read
        /// "nothing pressed" while the panel holds the keyboard or the pointer.
        pub fn isolate(mut self, reads: &'static EngineReads) -> Overlay {
            self.reads = Some(reads);
            self
        }

        /// The inspector itself (to pause, watch a path…).
        pub fn inspector(&mut self) -> &mut Inspector {
            &mut self.inspector
        }

        /// Whether the panel is open.
        pub fn is_open(&self) -> bool {
            self.open
        }

        /// Whether the panel held the keyboard in the last [`Overlay::update`] (a field is being
        /// typed into): a host that reads keys for the game (the context layout) ignores them
        /// while it does. The engine-direct layout needs nothing: see [`Overlay::isolate`].
        pub fn wants_keyboard(&self) -> bool {
            self.keyboard
        }

        /// Whether the pointer was over the panel or dragging in it in the last
        /// [`Overlay::update`]: a host that reads the mouse for the game ignores it then.
        pub fn wants_pointer(&self) -> bool {
            self.pointer
        }

        /// The frame: the panel (when open) takes its input and is laid out, then the game's
        /// `update` runs (a frozen one while paused) with the panel's input held back from it.
        /// The result is the game's `update`'s.
        pub fn update<C: ?Sized + Interface + 'static>(
            &mut self,
            game: &mut Worker<C>,
            ctx: &mut C,
        ) -> Result<(), Error> {
            if is_key_pressed(self.key) {
                self.open = !self.open;
            }
            let egui = self.egui.get_or_insert_with(Egui::new);
            if self.open {
                let inspector = &mut self.inspector;
                egui.run(|ctx| inspector.ui(ctx, game));
                let ctx = egui.mq.egui_ctx();
                self.keyboard = ctx.wants_keyboard_input();
                self.pointer = ctx.wants_pointer_input() || ctx.is_pointer_over_area();
            } else {
                egui.drain();
                self.keyboard = false;
                self.pointer = false;
            }
            if let Some(reads) = self.reads {
                reads.capture(self.keyboard, self.pointer);
            }
            self.inspector.update(game, ctx, self.open)
        }

        /// Draws the panel over what the host drew, when it is open.
        pub fn draw(&mut self) {
            if let (true, Some(egui)) = (self.open, &mut self.egui) {
                // SAFETY: called on macroquad's main thread, between frames' drawing, as
                // macroquad's own `get_internal_gl` requires.
                let mut gl = unsafe { macroquad::window::get_internal_gl() };
                // macroquad's queued shapes first, so they stay under the panel.
                gl.flush();
                egui.mq.draw(gl.quad_context);
            }
        }
    }

    impl Egui {
        fn new() -> Egui {
            // SAFETY: on macroquad's main thread, inside its frame loop (`Overlay::update`).
            let gl = unsafe { macroquad::window::get_internal_gl() };
            Egui {
                mq: egui_miniquad::EguiMq::new(gl.quad_context),
                subscriber: register_input_subscriber(),
            }
        }

        /// Hands egui the frame's input and lays out the panel.
        fn run(&mut self, mut ui: impl FnMut(&egui::Context)) {
            repeat_all_miniquad_input(self, self.subscriber);
            // SAFETY: as in `Egui::new`.
            let gl = unsafe { macroquad::window::get_internal_gl() };
            self.mq.run(gl.quad_context, |_, ctx| ui(ctx));
        }

        /// Throws away the input queued for egui while the panel is closed (so it does not
        /// grow, and keys pressed meanwhile do not reach a field when it opens).
        fn drain(&mut self) {
            repeat_all_miniquad_input(&mut Discard, self.subscriber);
        }
    }

    /// Input nobody takes.
    struct Discard;

    impl mq::EventHandler for Discard {
        fn update(&mut self) {}
        fn draw(&mut self) {}
    }

    impl mq::EventHandler for Egui {
        fn update(&mut self) {}

        fn draw(&mut self) {}

        fn mouse_motion_event(&mut self, x: f32, y: f32) {
            self.mq.mouse_motion_event(x, y);
        }

        fn mouse_wheel_event(&mut self, dx: f32, dy: f32) {
            // macroquad reports wheel steps in lines of 90 on the desktop.
            self.mq.mouse_wheel_event(dx / 90.0, dy / 90.0);
        }

        fn mouse_button_down_event(&mut self, mb: mq::MouseButton, x: f32, y: f32) {
            self.mq.mouse_button_down_event(mb, x, y);
        }

        fn mouse_button_up_event(&mut self, mb: mq::MouseButton, x: f32, y: f32) {
            self.mq.mouse_button_up_event(mb, x, y);
        }

        fn char_event(&mut self, character: char, _keymods: mq::KeyMods, _repeat: bool) {
            self.mq.char_event(character);
        }

        fn key_down_event(&mut self, keycode: mq::KeyCode, keymods: mq::KeyMods, _repeat: bool) {
            self.mq.key_down_event(keycode, keymods);
        }

        fn key_up_event(&mut self, keycode: mq::KeyCode, keymods: mq::KeyMods) {
            self.mq.key_up_event(keycode, keymods);
        }
    }
}

#[cfg(feature = "static")]
mod ship {
    use macroquad::input::KeyCode;
    use relive::{Error, Exports, StaticWorker};
    use relive_tape::EngineReads;

    /// The ship build's inspector: nothing. [`Overlay::update`] calls the game's `update`.
    #[derive(Debug, Default)]
    pub struct Overlay;

    impl Overlay {
        /// Nothing to make.
        #[inline(always)]
        pub fn new() -> Overlay {
            Overlay
        }

        /// Nothing opens.
        #[inline(always)]
        pub fn key(self, _key: KeyCode) -> Overlay {
            self
        }

        /// Nothing opens.
        #[inline(always)]
        pub fn opened(self) -> Overlay {
            self
        }

        /// No input is held back.
        #[inline(always)]
        pub fn isolate(self, _reads: &'static EngineReads) -> Overlay {
            self
        }

        /// Never open.
        #[inline(always)]
        pub fn is_open(&self) -> bool {
            false
        }

        /// Never.
        #[inline(always)]
        pub fn wants_keyboard(&self) -> bool {
            false
        }

        /// Never.
        #[inline(always)]
        pub fn wants_pointer(&self) -> bool {
            false
        }

        /// The game's `update`.
        #[inline(always)]
        pub fn update<E: Exports>(
            &mut self,
            game: &mut StaticWorker<E>,
            ctx: &mut E::Context,
        ) -> Result<(), Error> {
            game.update(ctx)
        }

        /// Nothing to draw.
        #[inline(always)]
        pub fn draw(&mut self) {}
    }
}
