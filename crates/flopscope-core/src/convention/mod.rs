//! Conventions: other tools' counting rules, applied to the same traced module, so that
//! flopscope reproduces thop, fvcore, ptflops, torchinfo, calflops, DeepSpeed's flops profiler
//! and PyTorch's `FlopCounterMode` exactly, and shows operator by operator where each departs
//! from the exact count (`docs/conventions.md`).
//!
//! Each tool sees a model at its own level, and a trace records all of them: ATen dispatches
//! (`FlopCounterMode`), torch functions (the `torch.nn.functional` calls and tensor methods
//! calflops and DeepSpeed patch, the operators TorchScript traces for fvcore) and module calls
//! (the forward hooks of thop, ptflops and torchinfo).

mod aten;
mod explain;
mod functions;
mod modules;
mod observe;
mod tally;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::schema::Profile;

pub use explain::{unit, Explain, ExplainRow};
pub use observe::Observation;
pub use tally::{category, OpRow};

/// A counting convention: flopscope's own or another tool's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Convention {
    /// flopscope's exact count (`docs/counting.md`).
    Exact,
    /// thop 0.1.1 (`thop.profile`): module hooks, MACs.
    Thop,
    /// fvcore 0.1.5 (`FlopCountAnalysis`): TorchScript operators, MACs.
    Fvcore,
    /// ptflops 0.7.5 (`get_model_complexity_info`, PyTorch backend): module hooks and
    /// patched functions, MACs.
    Ptflops,
    /// torchinfo 1.8 (`summary(...).total_mult_adds`): parameters × output size, MACs.
    Torchinfo,
    /// calflops 0.3.2 (`calculate_flops`): patched functions, FLOPs and MACs.
    Calflops,
    /// DeepSpeed 0.19.8's flops profiler (`get_model_profile`): patched functions, FLOPs
    /// and MACs.
    Deepspeed,
    /// PyTorch's `torch.utils.flop_counter.FlopCounterMode`: ATen dispatches, FLOPs.
    Flopcountermode,
}

impl Convention {
    /// Every convention, exact first.
    pub const ALL: [Convention; 8] = [
        Convention::Exact,
        Convention::Thop,
        Convention::Fvcore,
        Convention::Ptflops,
        Convention::Torchinfo,
        Convention::Calflops,
        Convention::Deepspeed,
        Convention::Flopcountermode,
    ];
    /// The name `--convention` takes.
    pub fn name(self) -> &'static str {
        match self {
            Convention::Exact => "exact",
            Convention::Thop => "thop",
            Convention::Fvcore => "fvcore",
            Convention::Ptflops => "ptflops",
            Convention::Torchinfo => "torchinfo",
            Convention::Calflops => "calflops",
            Convention::Deepspeed => "deepspeed",
            Convention::Flopcountermode => "flopcountermode",
        }
    }
    /// The tool and version whose rules this is.
    pub fn tool(self) -> &'static str {
        match self {
            Convention::Exact => "flopscope",
            Convention::Thop => "thop 0.1.1.post2209072238",
            Convention::Fvcore => "fvcore 0.1.5.post20221221",
            Convention::Ptflops => "ptflops 0.7.5",
            Convention::Torchinfo => "torchinfo 1.8.0",
            Convention::Calflops => "calflops 0.3.2",
            Convention::Deepspeed => "deepspeed 0.19.8",
            Convention::Flopcountermode => "torch.utils.flop_counter (torch 2.15)",
        }
    }
}

impl fmt::Display for Convention {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Convention {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let k = s.trim().to_ascii_lowercase().replace(['-', '_', ' '], "");
        let alias = match k.as_str() {
            "flopcounter" | "torch" | "pytorch" => "flopcountermode",
            "flopscope" => "exact",
            "ds" => "deepspeed",
            other => other,
        };
        Convention::ALL
            .into_iter()
            .find(|c| c.name() == alias)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "unknown convention '{s}' (one of: {})",
                    Convention::ALL.map(Convention::name).join(", ")
                ))
            })
    }
}

/// A model counted under one convention.
#[derive(Clone, Debug, Serialize)]
pub struct Counted {
    /// The convention.
    pub convention: Convention,
    /// The tool whose rules these are.
    pub tool: &'static str,
    /// The tool's multiply-accumulate figure (`None`: the tool has none).
    pub macs: Option<u64>,
    /// The tool's FLOP figure (`None`: the tool has none).
    pub flops: Option<u64>,
    /// The tool's parameter count (`None`: the tool has none).
    pub params: Option<u64>,
    /// What made the totals, by operator family, largest first.
    pub operators: Vec<OpRow>,
    /// What the convention could not see or assumed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Counts a traced module under `convention`; `exact` is its flopscope profile (what the
/// exact convention reports; its parameter total is also what tools that sum
/// `model.parameters()` report, after their own filters).
pub fn count(obs: &Observation, convention: Convention, exact: &Profile) -> Result<Counted> {
    let t = match convention {
        Convention::Exact => return Ok(tally::exact(exact)),
        Convention::Flopcountermode => aten::flopcountermode(obs)?,
        Convention::Fvcore => functions::fvcore(obs)?,
        Convention::Calflops => functions::patched(obs, false)?,
        Convention::Deepspeed => functions::patched(obs, true)?,
        Convention::Thop => modules::thop(obs)?,
        Convention::Ptflops => modules::ptflops(obs)?,
        Convention::Torchinfo => modules::torchinfo(obs)?,
    };
    t.finish(convention)
}

/// A model under each of `conventions`, lined up against the exact count. `trace` is the
/// `flopscope.trace/1` document `exact` was profiled from; only `exact` needs none.
pub fn explain(
    trace: Option<&[u8]>,
    name: &str,
    conventions: &[Convention],
    exact: &Profile,
) -> Result<Explain> {
    if conventions.is_empty() {
        return Err(Error::Usage("no convention to explain".into()));
    }
    let e = tally::exact(exact);
    let counted = match (trace, conventions.iter().find(|&&c| c != Convention::Exact)) {
        (_, None) => vec![e.clone(); conventions.len()],
        (None, Some(c)) => {
            return Err(Error::Usage(format!(
                "convention '{c}' reproduces a PyTorch tool: it needs a traced torch.nn.Module"
            )))
        }
        (Some(bytes), Some(_)) => {
            let obs = Observation::parse(bytes, name)?;
            conventions
                .iter()
                .map(|&c| count(&obs, c, exact))
                .collect::<Result<Vec<_>>>()?
        }
    };
    Ok(Explain::new(counted, &e))
}

/// Parses a comma-separated list of convention names (`thop,fvcore,exact`).
pub fn parse_list(s: &str) -> Result<Vec<Convention>> {
    s.split(',')
        .filter(|x| !x.trim().is_empty())
        .map(str::parse)
        .collect()
}
