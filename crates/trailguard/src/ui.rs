//! Terminal helpers shared by commands: when to use colour, a progress bar that only appears when a
//! person is watching (stderr is a TTY) and never pollutes pipes, files or CI logs, and a quiet exit
//! when the reader of stdout goes away (`trailguard ... | head`).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `--color auto|always|never`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour output written to stdout (`to_terminal`: whether the destination is a TTY).
    pub fn resolve(self, to_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => to_terminal && color_allowed_by_env(),
        }
    }
}

/// `NO_COLOR` (any non-empty value, see no-color.org) and `TERM=dumb` turn colour off.
fn color_allowed_by_env() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    !no_color && !dumb
}

/// Whether `err` comes from writing to a pipe whose reader has gone (`trailguard ... | head -1`): the
/// reader has what it wanted, so that is no error to report.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Makes `print!`/`println!` to a closed pipe end the program quietly (exit 0) instead of panicking
/// with "failed printing to stdout: Broken pipe"; every other panic is reported as before.
pub fn exit_quietly_when_stdout_closes() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            // A panic hook cannot return to `main`: exiting here is the only way to end quietly.
            #[allow(clippy::exit)]
            std::process::exit(0);
        }
        report(info);
    }));
}

/// The terminal's width in columns when stdout is a terminal (for wrapping the text report).
pub fn stdout_width() -> Option<usize> {
    if !stdout_is_terminal() {
        return None;
    }
    terminal_size::terminal_size().map(|(terminal_size::Width(w), _)| usize::from(w))
}

pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A progress bar on stderr when it is a terminal and `enabled`; otherwise a hidden bar that costs nothing.
/// `total` is the number of bytes expected, when known; [`set_total`] supplies it later.
pub fn progress_bar(total: Option<u64>, enabled: bool, what: &str) -> ProgressBar {
    if !enabled || !stderr_is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(spinner_style());
    bar.set_prefix(what.to_owned());
    if let Some(total) = total {
        set_total(&bar, total);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Turns a spinner into a bar once the total size is known (the pipeline learns it as files open).
pub fn set_total(bar: &ProgressBar, total: u64) {
    if total == 0 || bar.length() == Some(total) {
        return;
    }
    if bar.length().is_none() {
        bar.set_style(bar_style());
    }
    bar.set_length(total);
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix} {bytes} {binary_bytes_per_sec} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_choices_ignore_the_terminal() {
        assert!(ColorChoice::Always.resolve(false));
        assert!(!ColorChoice::Never.resolve(true));
        assert!(!ColorChoice::Auto.resolve(false));
    }

    #[test]
    fn hidden_bar_when_disabled() {
        assert!(progress_bar(Some(10), false, "scan").is_hidden());
    }

    #[test]
    fn total_turns_a_spinner_into_a_bar() {
        let bar = ProgressBar::hidden();
        set_total(&bar, 0);
        assert_eq!(bar.length(), None);
        set_total(&bar, 4096);
        assert_eq!(bar.length(), Some(4096));
    }
}
