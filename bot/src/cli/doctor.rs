//! `coderunner doctor`: which protections this host gives the sandbox, probed live, with a one-line
//! verdict. Exit status 0 for full isolation, 1 when anything is degraded.

use std::path::Path;
use std::process::ExitCode;

use coderunner_config::IsolationPolicy;
use coderunner_runner::host::{HostReport, Status, Verdict};

/// Probe the host for the config at `config_path` (or the embedded default) and print the report.
pub fn execute(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = super::load_config(config_path)?;
    let report = HostReport::probe(&config);
    let mut text = render(&report);
    // Everything else goes before the verdict, which stays the last line of the report.
    let mut extra = String::new();
    if report.verdict() == Verdict::Full || config.runner.isolation == IsolationPolicy::DegradedOk {
        extra += &super::doctor_pool::section(&config);
    }
    let sets = coderunner_commands::environments::report(&config);
    extra += &super::languages::sets_table(&sets);
    let unbuilt: Vec<&str> = sets
        .iter()
        .filter(|s| !s.ready)
        .map(|s| s.name.as_str())
        .collect();
    if !unbuilt.is_empty() {
        extra += &format!(
            "WARNING: package sets not ready: {}; runs that use them are refused until `coderunner env build` builds them.\n",
            unbuilt.join(", ")
        );
    }
    extra += &format!("\n{}\n", ai_line(&config));
    let at = text.rfind("\nverdict: ").unwrap_or(text.len());
    text.insert_str(at, &extra);
    print!("{text}");
    print!("{}", policy(&report, config.runner.isolation));
    Ok(match report.verdict() {
        Verdict::Full if unbuilt.is_empty() => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

/// The report as text: the protection table, the languages table, the verdict line.
pub fn render(report: &HostReport) -> String {
    let mut out = format!(
        "coderunner doctor: live probe of this host (kernel {})\n\n",
        report.kernel
    );
    let rows: Vec<[String; 3]> = report
        .checks()
        .into_iter()
        .map(|c| [c.name, c.status.to_string(), c.detail])
        .collect();
    out += &super::table::render(&["PROTECTION", "STATUS", "DETAIL"], &rows);
    let missing: Vec<String> = report
        .checks()
        .into_iter()
        .filter(|c| c.status == Status::Missing)
        .map(|c| c.name)
        .collect();
    if !missing.is_empty() {
        out += &format!(
            "\nWARNING: MISSING on this host: {}. Runs are less isolated than the security model promises.\n",
            missing.join(", ")
        );
    }
    out += "\n";
    let langs: Vec<[String; 4]> = report
        .languages
        .iter()
        .map(|l| {
            [
                l.name.clone(),
                if l.installed() { "ok" } else { "not installed" }.to_string(),
                l.path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| l.program.clone()),
                match &l.version {
                    Ok(v) => v.clone(),
                    Err(e) => e.clone(),
                },
            ]
        })
        .collect();
    out += &super::table::render(&["LANGUAGE", "STATUS", "PROGRAM", "VERSION"], &langs);
    out += &format!("\nverdict: {}\n", report.verdict());
    out
}

/// Whether the AI endpoint answers and which models it offers (`GET {base_url}/models`).
/// AI assist is not a protection, so this line never changes the exit status.
fn ai_line(config: &coderunner_config::Config) -> String {
    use coderunner_commands::ai::client::{AiClient, AiError};
    let Some(client) = AiClient::from_config(&config.ai) else {
        return "ai: off (set ai.base_url to an OpenAI-compatible endpoint to enable !explain, !fix, !ask, !tests)".to_string();
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return format!("ai: could not start a runtime to probe the endpoint: {e}"),
    };
    match runtime.block_on(client.models()) {
        Ok(models) => {
            let has = models.iter().any(|m| m == client.model());
            format!(
                "ai: {} answers; models: {}{}",
                client.base_url(),
                if models.is_empty() {
                    "(none listed)".to_string()
                } else {
                    models.join(", ")
                },
                if has {
                    format!(" (configured `{}` is among them)", client.model())
                } else {
                    format!(
                        "; WARNING: the configured model `{}` is not listed",
                        client.model()
                    )
                }
            )
        }
        // Not probed at all: saying "does not answer" would send the admin to the wrong place.
        Err(e @ AiError::MissingKey(_)) => {
            format!("ai: {} not asked for its models: {e}", client.base_url())
        }
        Err(e @ AiError::Unauthorized) => format!("ai: {} answers, but {e}", client.base_url()),
        Err(e) => format!("ai: {} does not answer: {e}", client.base_url()),
    }
}

/// What `runner.isolation` makes of the verdict (nothing to add on a full host), with how to get
/// each missing protection.
pub fn policy(report: &HostReport, isolation: IsolationPolicy) -> String {
    if report.verdict() == Verdict::Full {
        return String::new();
    }
    let mut out = match isolation {
        IsolationPolicy::Full => "runner.isolation: full, so runs are REFUSED on this host until it gives full isolation (or until you accept less with runner.isolation: degraded_ok).\n".to_string(),
        IsolationPolicy::DegradedOk => "WARNING: runner.isolation: degraded_ok, so runs go ahead with LESS isolation than the security model promises (languages with memory: cgroup_only are still refused without cgroups).\n".to_string(),
    };
    let how = report.remedies();
    if !how.is_empty() {
        out += "how to get full isolation:\n";
        for h in how {
            out += &format!("  - {h}\n");
        }
    }
    out
}
