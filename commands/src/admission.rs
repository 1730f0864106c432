//! The admission every command that runs code starts with (chat runs, direct runs, `!lint`, AI
//! assist): not shutting down, a place that allows runs, the asker's tier and what it grants;
//! then, once the request is known to be valid, its turn: the rate limit and a slot among the
//! asker's concurrent runs.

use coderunner_config::Profile;

use crate::access::{self, Grant};
use crate::audit::AuditRecord;
use crate::direct::RequestedLimits;
use crate::limits::UserSlot;
use crate::pipeline::{user_key, Pipeline};
use crate::refusal::Refusal;
use crate::{Identity, Place};

/// Who asks, and where.
pub(crate) struct Asker<'a> {
    pub who: &'a Identity,
    pub place: &'a Place,
    /// The tier to act as (an API key's); `None` finds it from the member's roles here, after
    /// checking that this place allows runs.
    pub tier: Option<&'a str>,
}

/// What the asker wants on top of their tier.
pub(crate) enum Wanted<'a> {
    /// `--privileged` and per-run limits (chat flags, the HTTP `limits` field).
    Limits {
        privileged: bool,
        limits: RequestedLimits,
    },
    /// A whole profile chosen elsewhere (a bot forwarding to this node), capped by the tier.
    Within {
        privileged: bool,
        profile: &'a Profile,
    },
}

impl Wanted<'_> {
    /// The tier's own limits, never privileged: model-written code and checkers get these.
    pub(crate) fn plain() -> Self {
        Wanted::Limits {
            privileged: false,
            limits: RequestedLimits::default(),
        }
    }
}

/// Which rate limit an action counts against.
pub(crate) enum Meter {
    /// A run (`rate_limits.user`, and `rate_limits.guild` in a server).
    Run { guild: Option<u64> },
    /// A call to the model (`rate_limits.ai`).
    Ai,
}

impl Pipeline {
    /// Not shutting down, the place, the tier and its grant; the tier goes on `record`.
    pub(crate) fn admit_asker(
        &self,
        asker: &Asker<'_>,
        wanted: Wanted<'_>,
        record: &mut AuditRecord,
    ) -> Result<Grant, Refusal> {
        self.check_open()?;
        let config = &self.inner.config;
        let tier = match asker.tier {
            Some(name) => config.tier(name).ok_or_else(|| {
                Refusal::not_allowed(format!("the tier `{name}` is not configured"))
            })?,
            None => {
                access::check_place(config, asker.place)?;
                access::tier_for(config, asker.who, asker.place)?
            }
        };
        record.tier = Some(tier.name.clone());
        match wanted {
            Wanted::Limits { privileged, limits } => {
                access::grant(config, tier, privileged, limits)
            }
            Wanted::Within {
                privileged,
                profile,
            } => access::grant_within(config, tier, privileged, profile),
        }
    }

    /// Count one action against the asker's rate limit `meter`.
    pub(crate) fn charge(
        &self,
        grant: &Grant,
        who: &Identity,
        meter: Meter,
    ) -> Result<(), Refusal> {
        let key = user_key(who);
        match meter {
            Meter::Run { guild } => self.inner.rate.check(&grant.tier, &key, guild),
            Meter::Ai => self.inner.rate.check_ai(&grant.tier, &key),
        }
    }

    /// One of the asker's concurrent runs (`rate_limits.concurrent_per_user`), held while the
    /// slot lives.
    pub(crate) fn user_slot(&self, who: &Identity) -> Result<UserSlot, Refusal> {
        self.inner.queue.claim_user(&user_key(who))
    }

    /// Charge a run to the asker and hold one of their concurrent-run slots.
    pub(crate) fn take_turn(
        &self,
        grant: &Grant,
        who: &Identity,
        guild: Option<u64>,
    ) -> Result<UserSlot, Refusal> {
        self.charge(grant, who, Meter::Run { guild })?;
        self.user_slot(who)
    }
}
