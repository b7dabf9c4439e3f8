//! Topology: which pipeline stage runs on which thread, and which core each thread is pinned to.
//!
//! Written as a compact spec: thread groups separated by `,`, stages of one thread joined by `+`,
//! an optional `@core` pin per thread — `feed@0,kernel+exec@1` (the 2-core default),
//! `feed@0,kernel@1,exec@2`, or `single` (every stage on the calling thread, unpinned: the
//! deterministic mode used by replays and tests).
//!
//! Fallback when the machine has fewer cores than asked (a warning, never a crash): a pin to a core
//! that does not exist or is not in this process's affinity mask is dropped (the thread runs
//! unpinned); when there are more threads than usable cores, the last thread groups are merged into
//! the one before until every thread has a core of its own; threads that share cores wait by
//! spinning briefly, then yielding, never by busy-spinning alone.

use std::fmt;

/// A pipeline stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Frames → normalized events.
    Feed,
    /// Events → sizing decisions → orders; fills → positions.
    Kernel,
    /// Orders → execution adapter → fills.
    Exec,
}

impl Stage {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "feed" => Some(Self::Feed),
            "kernel" => Some(Self::Kernel),
            "exec" => Some(Self::Exec),
            _ => None,
        }
    }

    /// Lowercase name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Feed => "feed",
            Self::Kernel => "kernel",
            Self::Exec => "exec",
        }
    }
}

/// One OS thread: its stages (run round-robin) and optional core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadSpec {
    /// Stages run by this thread, in polling order.
    pub stages: Vec<Stage>,
    /// Core to pin to.
    pub core: Option<usize>,
}

/// A whole topology. Read from configuration and flags as `auto` or a spec (see
/// [`Topology::from_str`](std::str::FromStr)).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Topology {
    /// `true`: every stage on the calling thread (deterministic single-thread mode).
    pub single: bool,
    /// Threads, when not single.
    pub threads: Vec<ThreadSpec>,
}

/// A topology spec that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad topology `{spec}`: {why} (expected `auto`, `single` or a spec such as `feed@0,kernel+exec@1` or `feed@0,kernel@1,exec@2`)")]
pub struct TopologyError {
    spec: String,
    why: String,
}

impl Topology {
    /// Parses a spec (see the module docs).
    ///
    /// # Errors
    /// Unknown stage, a stage missing or given twice, a bad core number.
    pub fn parse(spec: &str) -> Result<Self, TopologyError> {
        let err = |why: String| TopologyError {
            spec: spec.to_owned(),
            why,
        };
        let spec_t = spec.trim();
        if spec_t == "single" {
            return Ok(Self::single());
        }
        let mut threads = Vec::new();
        let mut seen = Vec::new();
        for group in spec_t.split(',') {
            let (stages_s, core) = match group.split_once('@') {
                Some((s, c)) => {
                    let core = c
                        .trim()
                        .parse::<usize>()
                        .map_err(|_| err(format!("`{c}` is not a core number")))?;
                    (s, Some(core))
                }
                None => (group, None),
            };
            let mut stages = Vec::new();
            for name in stages_s.split('+') {
                let st = Stage::parse(name.trim())
                    .ok_or_else(|| err(format!("unknown stage `{}`", name.trim())))?;
                if seen.contains(&st) {
                    return Err(err(format!("stage `{}` given twice", st.name())));
                }
                seen.push(st);
                stages.push(st);
            }
            threads.push(ThreadSpec { stages, core });
        }
        for st in [Stage::Feed, Stage::Kernel, Stage::Exec] {
            if !seen.contains(&st) {
                return Err(err(format!("stage `{}` missing", st.name())));
            }
        }
        Ok(Self {
            single: false,
            threads,
        })
    }

    /// Every stage on the calling thread.
    #[must_use]
    pub fn single() -> Self {
        Self {
            single: true,
            threads: vec![ThreadSpec {
                stages: vec![Stage::Feed, Stage::Kernel, Stage::Exec],
                core: None,
            }],
        }
    }

    /// The default for the cores this process may use: one thread per stage when there are 3 or
    /// more, `feed@0,kernel+exec@1` with 2, single-threaded with 1.
    #[must_use]
    pub fn auto(cores: &[usize]) -> Self {
        match cores.len() {
            0 | 1 => Self::single(),
            2 => Self {
                single: false,
                threads: vec![
                    ThreadSpec {
                        stages: vec![Stage::Feed],
                        core: Some(cores[0]),
                    },
                    ThreadSpec {
                        stages: vec![Stage::Kernel, Stage::Exec],
                        core: Some(cores[1]),
                    },
                ],
            },
            _ => Self {
                single: false,
                threads: vec![
                    ThreadSpec {
                        stages: vec![Stage::Feed],
                        core: Some(cores[0]),
                    },
                    ThreadSpec {
                        stages: vec![Stage::Kernel],
                        core: Some(cores[1]),
                    },
                    ThreadSpec {
                        stages: vec![Stage::Exec],
                        core: Some(cores[2]),
                    },
                ],
            },
        }
    }

    /// Fits the topology to the cores this process may use (`available`), returning the adjusted
    /// topology and one warning per change.
    #[must_use]
    pub fn fit(&self, available: &[usize]) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        if self.single {
            return (self.clone(), warnings);
        }
        let mut threads = self.threads.clone();
        for t in &mut threads {
            if let Some(c) = t.core {
                if !available.contains(&c) {
                    warnings.push(format!(
                        "core {c} is not available to this process (usable: {available:?}); the {} thread runs unpinned",
                        stages_name(&t.stages)
                    ));
                    t.core = None;
                }
            }
        }
        let usable = available.len().max(1);
        if threads.len() > usable {
            let before = threads.len();
            while threads.len() > usable {
                let last = threads.pop().expect("more threads than usable cores ≥ 1");
                let prev = threads.last_mut().expect("at least one thread remains");
                prev.stages.extend(last.stages);
            }
            warnings.push(format!(
                "{before} threads requested but only {usable} core(s) usable: stages combined as {}",
                Self { single: false, threads: threads.clone() }
            ));
        }
        let mut pinned: Vec<usize> = Vec::new();
        for t in &mut threads {
            if let Some(c) = t.core {
                if pinned.contains(&c) {
                    warnings.push(format!(
                        "core {c} pinned by two threads; the {} thread runs unpinned",
                        stages_name(&t.stages)
                    ));
                    t.core = None;
                } else {
                    pinned.push(c);
                }
            }
        }
        (
            Self {
                single: false,
                threads,
            },
            warnings,
        )
    }

    /// Whether every thread has a core to itself (so it may busy-spin while idle).
    #[must_use]
    pub fn dedicated_cores(&self, available: &[usize]) -> bool {
        !self.single
            && self.threads.len() <= available.len()
            && self.threads.iter().all(|t| t.core.is_some())
    }
}

/// `auto` ([`Topology::auto`] on the cores this process may use, [`available_cores`]) or a spec
/// ([`Topology::parse`]): how configuration files and command-line flags name a topology.
impl std::str::FromStr for Topology {
    type Err = TopologyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim() == "auto" {
            Ok(Self::auto(&available_cores()))
        } else {
            Self::parse(s)
        }
    }
}

impl TryFrom<String> for Topology {
    type Error = TopologyError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

fn stages_name(stages: &[Stage]) -> String {
    stages
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join("+")
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.single {
            return f.write_str("single");
        }
        for (i, t) in self.threads.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(&stages_name(&t.stages))?;
            if let Some(c) = t.core {
                write!(f, "@{c}")?;
            }
        }
        Ok(())
    }
}

/// Core ids this process may run on (its affinity mask), ascending.
#[must_use]
pub fn available_cores() -> Vec<usize> {
    let mut v: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let t = Topology::parse("feed@0,kernel+exec@1").unwrap();
        assert_eq!(t.to_string(), "feed@0,kernel+exec@1");
        assert_eq!(Topology::parse("single").unwrap(), Topology::single());
        assert!(Topology::parse("feed,kernel").is_err());
        assert!(Topology::parse("feed,kernel,exec,feed").is_err());
        assert!(Topology::parse("feed@x,kernel,exec").is_err());
        assert!(Topology::parse("feed,kernal,exec")
            .unwrap_err()
            .to_string()
            .contains("kernal"));
    }

    #[test]
    fn from_str_takes_auto_or_a_spec() {
        let auto: Topology = "auto".parse().unwrap();
        assert_eq!(auto, Topology::auto(&available_cores()));
        let t: Topology = "feed@0,kernel+exec@1".parse().unwrap();
        assert_eq!(t, Topology::parse("feed@0,kernel+exec@1").unwrap());
        let e = "feed,kernel".parse::<Topology>().unwrap_err().to_string();
        assert!(e.contains("`auto`") && e.contains("exec"), "{e}");
    }

    #[test]
    fn three_threads_on_two_cores_combine_with_a_warning() {
        let t = Topology::parse("feed@0,kernel@1,exec@2").unwrap();
        let (fitted, w) = t.fit(&[0, 1]);
        assert_eq!(fitted.to_string(), "feed@0,kernel+exec@1");
        assert_eq!(w.len(), 2, "{w:?}");
        let (fitted, w) = t.fit(&[0]);
        assert_eq!(fitted.threads.len(), 1);
        assert!(!w.is_empty());
        assert_eq!(Topology::auto(&[0, 1]).to_string(), "feed@0,kernel+exec@1");
        assert_eq!(Topology::auto(&[0]), Topology::single());
    }
}
