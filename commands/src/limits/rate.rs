//! Keyed quotas per user and per guild, one limiter per tier, with bounded memory.

use std::collections::HashMap;
use std::num::NonZeroU32;

use coderunner_config::{Quota as QuotaConfig, RateLimits};
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use super::LimiterClock;
use crate::fmt;
use crate::refusal::{retry_secs, Refusal, RefusalKind};

type Keyed = RateLimiter<String, DashMapStateStore<String>, LimiterClock, NoOpMiddleware<Nanos>>;

/// A tier's limiter, or `None` for a quota of zero runs (nobody in that tier may run).
struct TierQuota {
    limiter: Option<Keyed>,
    config: QuotaConfig,
}

/// The keyed quotas of every tier.
pub struct RateGate {
    clock: LimiterClock,
    user: HashMap<String, TierQuota>,
    guild: HashMap<String, TierQuota>,
    ai: HashMap<String, TierQuota>,
}

impl RateGate {
    pub fn new(limits: &RateLimits, clock: LimiterClock) -> Self {
        let build = |map: &std::collections::BTreeMap<String, QuotaConfig>| {
            map.iter()
                .map(|(tier, q)| {
                    let limiter = governor_quota(q)
                        .map(|quota| RateLimiter::dashmap_with_clock(quota, clock.clone()));
                    (
                        tier.clone(),
                        TierQuota {
                            limiter,
                            config: *q,
                        },
                    )
                })
                .collect()
        };
        RateGate {
            user: build(&limits.user),
            guild: build(&limits.guild),
            ai: build(&limits.ai),
            clock,
        }
    }

    /// Take one run from the user's and the guild's quota, or say when to retry.
    pub fn check(&self, tier: &str, user_key: &str, guild: Option<u64>) -> Result<(), Refusal> {
        if let Some(q) = self.user.get(tier) {
            self.take(q, user_key).map_err(|wait| {
                limited(
                    format!(
                        "slow down: the `{tier}` tier may run {} per {}",
                        fmt::plural(q.config.count as usize, "time", "times"),
                        fmt::duration(q.config.per.as_duration())
                    ),
                    wait,
                )
            })?;
        }
        if let (Some(q), Some(guild)) = (self.guild.get(tier), guild) {
            self.take(q, &guild.to_string()).map_err(|wait| {
                limited(
                    format!(
                        "this server has used its quota of {} per {} for the `{tier}` tier",
                        fmt::plural(q.config.count as usize, "run", "runs"),
                        fmt::duration(q.config.per.as_duration())
                    ),
                    wait,
                )
            })?;
        }
        Ok(())
    }

    /// Take one AI call from the user's `rate_limits.ai` quota, or say when to retry.
    pub fn check_ai(&self, tier: &str, user_key: &str) -> Result<(), Refusal> {
        if let Some(q) = self.ai.get(tier) {
            self.take(q, user_key).map_err(|wait| {
                limited(
                    format!(
                        "slow down: the `{tier}` tier may ask the AI {} per {}",
                        fmt::plural(q.config.count as usize, "time", "times"),
                        fmt::duration(q.config.per.as_duration())
                    ),
                    wait,
                )
            })?;
        }
        Ok(())
    }

    /// `Err(wait)`: the quota is used up for `wait` more (`None`: forever, a zero quota).
    fn take(&self, q: &TierQuota, key: &str) -> Result<(), Option<std::time::Duration>> {
        let Some(limiter) = &q.limiter else {
            return Err(None);
        };
        limiter
            .check_key(&key.to_string())
            .map_err(|not_until| Some(not_until.wait_time_from(self.clock.now())))
    }

    /// Forget keys whose quota has fully refilled, so memory stays bounded by recent users.
    pub fn retain_recent(&self) {
        for q in self
            .user
            .values()
            .chain(self.guild.values())
            .chain(self.ai.values())
        {
            if let Some(l) = &q.limiter {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
    }

    /// Keys currently remembered, across all limiters.
    pub fn tracked_keys(&self) -> usize {
        self.user
            .values()
            .chain(self.guild.values())
            .chain(self.ai.values())
            .filter_map(|q| q.limiter.as_ref())
            .map(|l| l.len())
            .sum()
    }
}

fn limited(why: String, wait: Option<std::time::Duration>) -> Refusal {
    match wait {
        Some(wait) => Refusal {
            kind: RefusalKind::RateLimited,
            message: format!("{why}; retry in {} s", retry_secs(wait)),
            retry_after: Some(std::time::Duration::from_secs(retry_secs(wait))),
        },
        None => Refusal::not_allowed(format!("{why}, so no runs are possible")),
    }
}

/// `count` runs per `per` as a burst of `count` refilling one every `per / count`.
fn governor_quota(q: &QuotaConfig) -> Option<Quota> {
    let count = NonZeroU32::new(q.count)?;
    let per = q.per.as_duration().max(std::time::Duration::from_millis(1));
    Quota::with_period(per / q.count).map(|quota| quota.allow_burst(count))
}
