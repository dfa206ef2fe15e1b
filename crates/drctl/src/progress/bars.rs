//! A bar per wave (servers launched of the wave's servers) and a status line, on a terminal.

use drs_sim::driver::{Event, Observer};
use execution_core::actions::ActionWhen;
use execution_core::audit::AuditEvent;
use execution_core::model::Timestamp;
use execution_core::status::WaveStatus;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Narrator, Progress};

pub struct Bars {
    multi: MultiProgress,
    status: ProgressBar,
    waves: Vec<ProgressBar>,
    narrator: Narrator,
}

impl Bars {
    pub fn new(narrator: Narrator) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        let status = multi.add(ProgressBar::new_spinner());
        Self {
            multi,
            status,
            waves: Vec::new(),
            narrator,
        }
    }

    fn add_wave_bars(&mut self) {
        let style = ProgressStyle::with_template(
            "{prefix:<24} [{bar:32.green/blue}] {pos:>3}/{len:<3} {msg}",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        for tally in &self.narrator.waves {
            let bar = self.multi.add(ProgressBar::new(tally.total));
            bar.set_style(style.clone());
            bar.set_prefix(tally.label.clone());
            bar.set_message("PENDING");
            self.waves.push(bar);
        }
    }
}

impl Observer for Bars {
    fn observe(&mut self, at: Timestamp, event: &Event) {
        for line in self.narrator.lines(at, event, false) {
            let _ = self.multi.println(line);
        }
        match event {
            Event::Started { .. } => self.add_wave_bars(),
            Event::WaveLaunched {
                wave_number,
                wave_status,
                ..
            } => {
                if let Some(bar) = self.waves.get(*wave_number as usize) {
                    bar.set_message(wave_status.to_string());
                }
            }
            Event::LaunchResult {
                launched_wave: Some(next),
                ..
            } => {
                if let Some(bar) = self.waves.get(*next as usize) {
                    bar.set_message("STARTED (DRS event)");
                }
            }
            Event::LaunchDeferred {
                wave_number,
                retry_after_secs,
                ..
            } => {
                if let Some(bar) = self.waves.get(*wave_number as usize) {
                    bar.set_message(format!("DRS refused for now; again in {retry_after_secs}s"));
                }
            }
            Event::WaveChanged { wave, previous } => {
                if let Some(bar) = self.waves.get(wave.wave_number as usize) {
                    if previous.is_settled() && !wave.status.is_settled() {
                        // A retried wave: its bar runs again.
                        let launched = bar.position();
                        bar.reset();
                        bar.set_position(launched);
                    }
                    let attempt = if wave.attempt > 1 {
                        format!(" (attempt {})", wave.attempt)
                    } else {
                        String::new()
                    };
                    bar.set_message(format!("{}{attempt}", wave.status));
                    if wave.status.is_settled() {
                        // As it stands: a failed wave's bar shows what did launch.
                        bar.abandon();
                    }
                }
            }
            // A wave's action before its launch: its bar says what holds the launch back.
            Event::ActionChanged {
                wave_number, run, ..
            } if run.when == ActionWhen::BeforeLaunch => {
                if let Some(bar) = self.waves.get(*wave_number as usize) {
                    bar.set_message(format!("action {} {}", run.name, run.status));
                }
            }
            Event::ServerChanged { wave_number, .. } => {
                if let (Some(bar), Some(t)) = (
                    self.waves.get(*wave_number as usize),
                    self.narrator.waves.get(*wave_number as usize),
                ) {
                    bar.set_position(t.launched);
                    if bar.message() != WaveStatus::Completed.as_str() {
                        bar.set_message(format!(
                            "{} in progress, {} failed",
                            t.in_progress, t.failed
                        ));
                    }
                }
            }
            Event::Polled { next_action } => self.status.set_message(format!(
                "{} next: {}",
                self.narrator.clock(at),
                next_action.as_str()
            )),
            Event::Paused { reason, .. } => self.status.set_message(format!(
                "{} PAUSED ({})",
                self.narrator.clock(at),
                serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            )),
            _ => {}
        }
        self.status.tick();
    }
}

impl Progress for Bars {
    fn trail(&mut self, event: &AuditEvent) {
        let _ = self.multi.println(self.narrator.trail_line(event));
    }

    fn finish(&mut self) {
        self.status.finish_and_clear();
        for bar in &self.waves {
            bar.abandon();
        }
    }
}
