"""Typed view of ``enkrypt_policy_detections``: what the proxy's guardrails found.

The shape is only loosely documented and was seen to vary (``docs/proxy-api.md``,
"Numbers in the sample replies"): scores as strings, ``summary.toxicity`` as ``{}`` or a
list of names, keys no document mentions. So every typed part here is best effort: numeric
strings are coerced, lists and maps in a summary are counted, unknown keys are kept as
extras, and ``raw`` always holds what was sent. Read through ``lenient_validate`` (as the
SDK does), a part that does not fit its type becomes ``None`` instead of failing the whole
reply.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PrivateAttr,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from ._display import detections_html
from ._lenient import original_of

__all__ = [
    "BiasDetection",
    "GuardrailDetails",
    "GuardrailReport",
    "GuardrailSummary",
    "InjectionAttackDetection",
    "KeywordDetection",
    "NsfwDetection",
    "PiiDetection",
    "PolicyDetections",
    "PolicyViolationDetection",
]


def _as_count(value: Any) -> Any:
    # Summaries were seen as counts, as lists of names and as {} (nothing found).
    if isinstance(value, list | dict | tuple):
        return len(value)
    return value


Count = Annotated[int | None, BeforeValidator(_as_count)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)


class KeywordDetection(_Part):
    """Keyword detector result."""

    detected_counts: dict[str, int] | None = None
    """How often each blocked keyword occurred."""
    detected_keywords: Any = None
    """The keywords found, as the proxy lists them."""
    redacted_text: str | None = None
    """The text with the keywords masked."""


class PolicyViolationDetection(_Part):
    """Policy violation check result."""

    violating_policy: str | None = None
    """The policy the text violates, if any."""
    explanation: str | None = None
    """Why the check found a violation."""


class BiasDetection(_Part):
    """Bias check result."""

    bias_detected: bool | None = None
    """Whether bias was found."""
    debiased_text: str | None = None
    """A rewrite without the bias, when the proxy offers one."""


class PiiDetection(_Part):
    """Personal data found, by kind."""

    pii: Any = None
    secrets: Any = None
    ip_address: Any = None
    url: Any = None


class NsfwDetection(_Part):
    """Safe-for-work scores."""

    sfw: float | None = None
    """Score (0 to 1) that the text is safe for work."""
    nsfw: float | None = None
    """Score (0 to 1) that it is not."""


class InjectionAttackDetection(_Part):
    """Prompt-injection scores."""

    safe: float | None = None
    """Score (0 to 1) that the prompt is benign."""
    attack: float | None = None
    """Score (0 to 1) that it is a prompt-injection attack."""


class GuardrailDetails(_Part):
    """Per-detector findings of one guardrail pass."""

    keyword_detector: KeywordDetection | None = None
    policy_violation: PolicyViolationDetection | None = None
    bias: BiasDetection | None = None
    pii: PiiDetection | None = None
    nsfw: NsfwDetection | None = None
    toxicity: dict[str, float] | list[str] | None = None
    """Scores by category, or the names of the categories found."""
    injection_attack: InjectionAttackDetection | None = None
    relevancy: Any = None
    hallucination: Any = None


class GuardrailSummary(_Part):
    """How many findings each detector reported (lists and maps are counted)."""

    keyword_detected: Count = None
    policy_violation: Count = None
    bias: Count = None
    pii: Count = None
    nsfw: Count = None
    toxicity: Count = None
    injection_attack: Count = None
    relevancy: Count = None
    hallucination: Count = None

    @property
    def flagged(self) -> list[str]:
        """Names of the detectors with a non-zero count."""
        return [name for name in type(self).model_fields if getattr(self, name)]


class GuardrailReport(_Part):
    """One guardrail pass (input or output): details and summary."""

    details: GuardrailDetails | None = None
    """What each detector found."""
    summary: GuardrailSummary | None = None
    """How many findings each detector reported."""


class PolicyDetections(_Part):
    """What the proxy's input and output guardrails found.

    ``raw`` is the dict exactly as the proxy sent it.
    """

    input_guardrails: GuardrailReport | None = None
    """The checks of the prompt, before the model ran."""
    output_guardrails: GuardrailReport | None = None
    """The checks of the generated text."""
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        instance = handler(value)
        if isinstance(value, dict) and isinstance(instance, PolicyDetections):
            instance._raw = original_of(value, info.context)  # as sent, even if repaired
        return instance

    def _repr_html_(self) -> str:
        return detections_html(self)

    @property
    def raw(self) -> dict[str, Any]:
        """The detections as the proxy sent them."""
        return self._raw

    @property
    def flagged(self) -> list[str]:
        """Detectors that reported a finding, as ``"input:injection_attack"`` and the like."""
        found: list[str] = []
        for stage, report in (("input", self.input_guardrails), ("output", self.output_guardrails)):
            if report is not None and report.summary is not None:
                found.extend(f"{stage}:{name}" for name in report.summary.flagged)
        return found
