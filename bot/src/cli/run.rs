//! `coderunner run`: one file through the sandbox, printed as a summary or RunOutcome JSON.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use coderunner_config::Config;
use coderunner_runner::{InputFile, LocalRunner, RunOutcome, RunRequest, RunStatus, Runner};

use super::RunArgs;

pub fn execute(config_path: Option<&Path>, args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(config_path)?;
    let request = build_request(&config, &args)?;
    // One thread is plenty for one run and keeps start-up cheap.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime.block_on(async {
        let runner = LocalRunner::new(&config).context("preparing the sandbox")?;
        runner.run(request).await.context("running the program")
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_summary(&outcome);
    Ok(match (outcome.status, outcome.exit_code) {
        (RunStatus::Exited, Some(0)) => ExitCode::SUCCESS,
        (RunStatus::Exited, Some(code)) => ExitCode::from(code.clamp(1, 255) as u8),
        _ => ExitCode::FAILURE,
    })
}

fn build_request(config: &Config, args: &RunArgs) -> anyhow::Result<RunRequest> {
    let from_stdin = args.file.as_os_str() == "-";
    let (language, spec) = match &args.lang {
        Some(l) => config.find_language(l).with_context(|| {
            let hint = config.suggest_languages(l);
            if hint.is_empty() {
                format!("unknown language `{l}`; see `coderunner languages`")
            } else {
                format!(
                    "unknown language `{l}`; did you mean {}?",
                    hint.join(" or ")
                )
            }
        })?,
        None if from_stdin => {
            bail!("reading the program from stdin needs --lang, e.g. `--lang python -`")
        }
        None => {
            let name = args.file.to_string_lossy();
            config.language_for_extension(&name).with_context(|| {
                format!("cannot tell the language of `{name}` from its extension; pass --lang")
            })?
        }
    };
    let tier_name = args
        .tier
        .clone()
        .or_else(|| config.access.default_tier.clone())
        .or_else(|| config.access.tiers.first().map(|t| t.name.clone()))
        .context("the config has no tiers")?;
    let tier = config.tier(&tier_name).with_context(|| {
        let names: Vec<&str> = config
            .access
            .tiers
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        format!(
            "unknown tier `{tier_name}`; known tiers: {}",
            names.join(", ")
        )
    })?;
    let limits = config
        .profile(&tier.profile)
        .with_context(|| {
            format!(
                "tier `{}` names the unknown profile `{}`",
                tier.name, tier.profile
            )
        })?
        .clone();

    let code = if from_stdin {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading the program from stdin")?;
        buf
    } else {
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?
    };
    let stdin = match &args.stdin {
        Some(p) => std::fs::read(p).with_context(|| format!("reading --stdin {}", p.display()))?,
        None => Vec::new(),
    };
    let packages = coderunner_commands::environments::choose(
        config,
        args.env_set.as_deref(),
        language,
        spec,
        None,
        &tier.name,
    )
    .map_err(|refusal| anyhow::anyhow!(refusal.message))?;
    Ok(RunRequest {
        packages,
        language: language.to_string(),
        files: vec![InputFile {
            path: spec.file.clone(),
            content: code,
        }],
        main: None,
        spec: spec.clone(),
        stdin,
        args: args.args.clone(),
        env: Vec::new(),
        limits,
    })
}

fn print_summary(o: &RunOutcome) {
    if let Some(c) = &o.compile {
        if o.status == RunStatus::CompileError {
            eprintln!(
                "── compile failed ({}, {} ms) ──",
                c.status.as_str(),
                c.wall_ms
            );
        }
    }
    print!("{}", o.output);
    if !o.output.is_empty() && !o.output.ends_with('\n') {
        println!();
    }
    let mut line = format!("── {}", o.status.as_str());
    if let Some(code) = o.exit_code {
        line.push_str(&format!(" (exit code {code})"));
    }
    if let Some(sig) = &o.signal {
        line.push_str(&format!(" ({sig})"));
    }
    line.push_str(&format!(" · wall {} ms · cpu {} ms", o.wall_ms, o.cpu_ms));
    if let Some(peak) = o.peak_memory_bytes {
        line.push_str(&format!(
            " · peak memory {:.1} MiB",
            peak as f64 / 1048576.0
        ));
    }
    if o.truncated {
        line.push_str(" · output truncated");
    }
    eprintln!("{line}");
    if let Some(e) = &o.error {
        eprintln!("   {e}");
    }
    for f in &o.files {
        eprintln!("   file: {} ({} bytes, {})", f.path, f.size, f.mime);
    }
}
