//! The interface between the hello host and its worker.

/// What the host offers the worker each frame.
pub trait Context {
    /// Shows one line to the user.
    fn show(&mut self, line: &str);
    /// Seconds since the host started.
    fn time(&self) -> f64;
}

relive_worker::interface!(dyn Context);
