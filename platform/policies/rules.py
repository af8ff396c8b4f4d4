"""The schema of a policy's rules (plain pydantic, no Django).

A policy is validated in full before it is stored; unknown keys are refused so a typo cannot
silently switch a rule off."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Sexual content involving minors is blocked by every policy; no rule set can remove it.
MANDATORY_CATEGORY = "sexual_minors"

PROMPT_CATEGORIES = (
    MANDATORY_CATEGORY,
    "non_consensual_intimate",
    "sexual",
    "impersonation",
    "graphic_violence",
    "hate",
    "self_harm",
)
DEPLOYMENT_CONTEXTS = ("political", "medical", "legal", "biometric", "evidentiary")
IMAGE_CLASSIFIERS = ("clip_concepts", "nudenet")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuotaRules(_Strict):
    org_monthly_images: int = Field(10_000, ge=0, le=100_000_000)
    user_monthly_images: int = Field(1_000, ge=0, le=100_000_000)


class PromptRules(_Strict):
    blocked_categories: list[Literal[PROMPT_CATEGORIES]] = Field(
        default_factory=lambda: list(PROMPT_CATEGORIES)
    )
    blocked_terms: list[str] = Field(default_factory=list, max_length=5_000)
    protected_names: list[str] = Field(default_factory=list, max_length=5_000)
    max_length: int = Field(1_000, ge=1, le=10_000)

    @field_validator("blocked_categories")
    @classmethod
    def _keep_mandatory(cls, value: list[str]) -> list[str]:
        if MANDATORY_CATEGORY not in value:
            raise ValueError(
                f"'{MANDATORY_CATEGORY}' is blocked by every policy and cannot be removed"
            )
        return sorted(set(value), key=PROMPT_CATEGORIES.index)

    @field_validator("blocked_terms", "protected_names")
    @classmethod
    def _clean_terms(cls, value: list[str]) -> list[str]:
        terms = [term.strip() for term in value]
        if any(not term or len(term) > 200 for term in terms):
            raise ValueError("terms must be 1 to 200 characters")
        return sorted(set(terms))


class ImageSafetyRules(_Strict):
    required_classifiers: list[Literal[IMAGE_CLASSIFIERS]] = Field(default_factory=list)
    # Scores at or above a threshold block the image; each is a probability in [0, 1].
    thresholds: dict[str, float] = Field(
        default_factory=lambda: {"nudity": 0.5, "violence": 0.6, "unsafe": 0.5}
    )

    @field_validator("thresholds")
    @classmethod
    def _in_unit_interval(cls, value: dict[str, float]) -> dict[str, float]:
        for name, threshold in value.items():
            if not 0.0 <= threshold <= 1.0:
                raise ValueError(f"threshold {name!r} must be between 0 and 1")
        return value


class MemorizationRules(_Strict):
    enabled: bool = True
    # Hamming distance between 64-bit perceptual hashes at or under which an output is a copy.
    max_hamming: int = Field(8, ge=0, le=32)
    embedding_similarity: float | None = Field(None, ge=0.0, le=1.0)


# What an anonymous caller of /api/verify learns about an image this platform issued.
DISCLOSABLE = ("org", "model", "created_at", "policy_version", "datasets")


class ProvenanceRules(_Strict):
    # Every released image is watermarked and carries signed content credentials; the schema
    # records that rather than letting a policy switch disclosure off.
    watermark: Literal[True] = True
    c2pa: Literal[True] = True
    training_and_mining: Literal["allowed", "notAllowed", "constrained"] = "notAllowed"
    public_disclosure: list[Literal[DISCLOSABLE]] = Field(
        default_factory=lambda: ["org", "model", "created_at"]
    )


class AbuseRules(_Strict):
    # Blocked prompts plus blocked images within the window; reaching the limit suspends the
    # user from generating until an admin lifts it. 0 disables suspension.
    max_blocked: int = Field(10, ge=0, le=100_000)
    window_hours: int = Field(24, ge=1, le=24 * 365)


class PolicyRules(_Strict):
    allowed_models: list[str] = Field(
        default_factory=list,
        description="Model names (or name:version) staff may use; empty: every licensed model.",
    )
    commercial_use: bool = Field(
        True, description="Outputs are used commercially: every training licence must allow it."
    )
    allow_opted_out_models: bool = False
    max_width: int = Field(1024, ge=64, le=4096, multiple_of=8)
    max_height: int = Field(1024, ge=64, le=4096, multiple_of=8)
    max_steps: int = Field(50, ge=1, le=500)
    max_images_per_job: int = Field(4, ge=1, le=64)
    quota: QuotaRules = Field(default_factory=QuotaRules)
    prompt: PromptRules = Field(default_factory=PromptRules)
    image_safety: ImageSafetyRules = Field(default_factory=ImageSafetyRules)
    memorization: MemorizationRules = Field(default_factory=MemorizationRules)
    review_contexts: list[Literal[DEPLOYMENT_CONTEXTS]] = Field(
        default_factory=lambda: list(DEPLOYMENT_CONTEXTS)
    )
    provenance: ProvenanceRules = Field(default_factory=ProvenanceRules)
    abuse: AbuseRules = Field(default_factory=AbuseRules)

    @model_validator(mode="after")
    def _quota_consistent(self) -> "PolicyRules":
        if self.quota.user_monthly_images > self.quota.org_monthly_images:
            raise ValueError("quota.user_monthly_images cannot exceed quota.org_monthly_images")
        return self


def default_rules() -> dict:
    return PolicyRules().model_dump(mode="json")
