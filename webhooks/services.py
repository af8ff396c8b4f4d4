"""Webhook writes: the org's allowed hosts and secret, checking a job's callback when it is
submitted, and recording and making each delivery attempt."""

import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit_append
from generation.models import GenerationJob
from mintmark.errors import ApiError
from orgs.models import Organization
from webhooks import secret_box, sender
from webhooks.addresses import (
    Refused,
    addresses_resolve,
    allow_entry_normalize,
    host_allowed,
    target_parse,
)
from webhooks.events import EVENT_TYPES, event_body
from webhooks.models import Delivery, DeliveryAttempt, WebhookConfig
from webhooks.signing import HEADER, signature_header

MAX_ALLOWED_HOSTS = 100
# Retries due sooner than this are queued with a countdown; later ones are queued by the
# periodic sweep, since a broker holds a long countdown as an unacknowledged message (Redis
# hands it out again after its visibility timeout) and a worker keeps every one in memory.
COUNTDOWN_MAX_S = 300
# The sweep leaves a delivery this long past due to the countdown already queued for it.
SWEEP_GRACE_S = 60


def config_of(*, org: Organization) -> WebhookConfig:
    """The org's settings; an unsaved empty one when an admin has set nothing yet."""
    return WebhookConfig.objects.filter(org=org).first() or WebhookConfig(org=org)


def _config_locked(org: Organization) -> WebhookConfig:
    WebhookConfig.objects.get_or_create(org=org)
    return WebhookConfig.objects.select_for_update().get(org=org)


def allowed_hosts_set(*, org: Organization, actor, hosts: list[str]) -> WebhookConfig:
    """Replaces the org's allow-list (host names, IP addresses, `*.domain`)."""
    if len(hosts) > MAX_ALLOWED_HOSTS:
        raise ApiError(422, "too_many_hosts", f"At most {MAX_ALLOWED_HOSTS} allowed hosts.")
    normalized = []
    for host in hosts:
        try:
            normalized.append(allow_entry_normalize(host))
        except Refused as exc:
            raise ApiError(422, "invalid_host", str(exc)) from None
    normalized = sorted(set(normalized))
    with transaction.atomic():
        config = _config_locked(org)
        previous = config.allowed_hosts
        if previous == normalized:
            return config
        config.allowed_hosts = normalized
        config.save()
        audit_append(
            org=org,
            actor=actor,
            action="webhooks.allowed_hosts_changed",
            subject=("webhooks.webhookconfig", str(org.pk)),
            data={
                "added": sorted(set(normalized) - set(previous)),
                "removed": sorted(set(previous) - set(normalized)),
            },
        )
    return config


def secret_rotate(*, org: Organization, actor) -> tuple[WebhookConfig, str]:
    """A new signing secret, returned this once. The one it replaces keeps signing alongside
    for MINTMARK_WEBHOOK_ROTATION_OVERLAP_S, so receivers can switch without refusing."""
    secret = secret_box.secret_new()
    now = timezone.now()
    with transaction.atomic():
        config = _config_locked(org)
        rotated = bool(config.secret_sealed)
        if rotated:
            config.previous_sealed = config.secret_sealed
            config.previous_until = now + timedelta(seconds=settings.WEBHOOK_ROTATION_OVERLAP_S)
        config.secret_sealed = secret_box.secret_seal(secret)
        config.secret_hint = secret_box.secret_hint(secret)
        config.secret_created_at = now
        config.save()
        audit_append(
            org=org,
            actor=actor,
            action="webhooks.secret_rotated" if rotated else "webhooks.secret_created",
            subject=("webhooks.webhookconfig", str(org.pk)),
            data={
                "hint": config.secret_hint,
                "previous_valid_until": (config.previous_until.isoformat() if rotated else None),
            },
        )
    return config, secret


def _signing_secrets(config: WebhookConfig, now) -> list[str]:
    secrets = [secret_box.secret_open(config.secret_sealed)]
    if config.previous_sealed and config.previous_until and config.previous_until > now:
        secrets.append(secret_box.secret_open(config.previous_sealed))
    return secrets


def _callback_refusal(config: WebhookConfig, url: str) -> str | None:
    """Why the org may not call `url` back now (None when it may), short of resolving it."""
    try:
        target = target_parse(url)
    except Refused as exc:
        return str(exc)
    if not host_allowed(target.host, config.allowed_hosts):
        return (
            f"{target.host} is not on this organization's webhook allow-list "
            "(an admin adds hosts under Webhooks)."
        )
    if not config.secret_sealed:
        return "This organization has no webhook secret yet (an admin creates it under Webhooks)."
    return None


def callback_check(*, org: Organization, url: str) -> str:
    """The callback URL a job may keep, checked at submission: 422 with the reason when it
    may not be called (bad URL, host not allowed, no secret, an internal address)."""
    if not url:
        return ""
    try:
        target = target_parse(url)
    except Refused as exc:
        raise ApiError(422, "invalid_callback_url", str(exc)) from None
    refusal = _callback_refusal(config_of(org=org), url)
    if refusal is not None:
        raise ApiError(422, "callback_not_allowed", refusal)
    try:
        addresses_resolve(target, allow_private=settings.WEBHOOK_ALLOW_PRIVATE)
    except Refused as exc:
        raise ApiError(422, "callback_address_refused", str(exc)) from None
    return url


def _queue(delivery_id, attempts: int, countdown: float = 0) -> None:
    from webhooks.tasks import deliver  # tasks.py imports this module

    deliver.apply_async((str(delivery_id), attempts), countdown=countdown)


def delivery_record(*, job: GenerationJob, previous: str, reason: str) -> Delivery | None:
    """Records the event of a job that reached a state its callback hears about, in the
    transaction of that change, and queues its first attempt once committed."""
    if not job.callback_url or job.state not in EVENT_TYPES:
        return None
    event_id, body = event_body(job=job, previous=previous, reason=reason)
    delivery = Delivery.objects.create(
        org_id=job.org_id,
        job=job,
        event_id=event_id,
        event_type=EVENT_TYPES[job.state],
        url=job.callback_url,
        body=body,
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(lambda: _queue(delivery.pk, 0))
    return delivery


def delivery_redeliver(*, delivery: Delivery, actor) -> Delivery:
    """Sends a finished delivery's event again (same event id and body, a fresh retry
    window), if the org still allows its URL."""
    if delivery.state == Delivery.State.PENDING:
        raise ApiError(409, "delivery_pending", "This delivery is still being attempted.")
    refusal = _callback_refusal(config_of(org=delivery.org), delivery.url)
    if refusal is not None:
        raise ApiError(422, "callback_not_allowed", refusal)
    with transaction.atomic():
        again = Delivery.objects.create(
            org_id=delivery.org_id,
            job_id=delivery.job_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            url=delivery.url,
            body=delivery.body,
            redelivery_of=delivery,
            next_attempt_at=timezone.now(),
        )
        audit_append(
            org=delivery.org,
            actor=actor,
            action="webhooks.redelivered",
            subject=again,
            data={
                "of": str(delivery.pk),
                "job": str(delivery.job_id),
                "event": delivery.event_type,
            },
        )
        transaction.on_commit(lambda: _queue(again.pk, 0))
    return again


def retry_delay(attempt: int) -> float:
    """Seconds after failed attempt number `attempt` (1-based): doubling from the base, capped."""
    return float(
        min(settings.WEBHOOK_RETRY_BASE_S * 2 ** min(attempt - 1, 32), settings.WEBHOOK_RETRY_MAX_S)
    )


def delivery_attempt(*, delivery_id, attempts: int) -> DeliveryAttempt | None:
    """Makes attempt number attempts + 1 if the delivery is still pending, due, and no other
    task made that attempt (a redelivered or duplicated task message finds nothing to do)."""
    now = timezone.now()
    # If this worker dies mid-request, the sweep tries again once this has passed.
    lease = now + timedelta(seconds=2 * settings.WEBHOOK_TIMEOUT_S + SWEEP_GRACE_S)
    claimed = Delivery.objects.filter(
        pk=delivery_id, state=Delivery.State.PENDING, attempts=attempts, next_attempt_at__lte=now
    ).update(attempts=attempts + 1, next_attempt_at=lease)
    if not claimed:
        return None
    number = attempts + 1
    delivery = Delivery.objects.select_related("org").get(pk=delivery_id)
    config = config_of(org=delivery.org)
    refusal = _callback_refusal(config, delivery.url)
    give_up = refusal is not None
    if refusal is None:
        try:
            secrets = _signing_secrets(config, now)
        except secret_box.SecretUnreadable as exc:
            refusal, give_up = str(exc), True
    if refusal is not None:
        outcome = sender.Outcome(None, refusal, 0.0)
    else:
        body = delivery.body.encode()
        headers = {
            HEADER: signature_header(secrets, int(time.time()), body),
            "Mintmark-Event": delivery.event_type,
            "Mintmark-Delivery": str(delivery.pk),
        }
        outcome = sender.post(
            target_parse(delivery.url),
            body,
            headers,
            allow_private=settings.WEBHOOK_ALLOW_PRIVATE,
            timeout=settings.WEBHOOK_TIMEOUT_S,
        )
    finished = timezone.now()
    delay, next_at = 0.0, None
    if outcome.delivered:
        state = Delivery.State.DELIVERED
    elif give_up:
        state = Delivery.State.FAILED
    else:
        delay = retry_delay(number)
        next_at = finished + timedelta(seconds=delay)
        window_end = delivery.created_at + timedelta(seconds=settings.WEBHOOK_RETRY_FOR_S)
        state = Delivery.State.PENDING if next_at <= window_end else Delivery.State.FAILED
        if state == Delivery.State.FAILED:
            next_at = None
    with transaction.atomic():
        attempt = DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=now,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            error=outcome.error[:2000],
            next_attempt_at=next_at,
        )
        Delivery.objects.filter(pk=delivery.pk, attempts=number).update(
            state=state,
            next_attempt_at=next_at,
            finished_at=None if state == Delivery.State.PENDING else finished,
        )
        if next_at is not None and delay <= COUNTDOWN_MAX_S:
            transaction.on_commit(lambda: _queue(delivery.pk, number, countdown=delay))
    return attempt


def deliveries_requeue() -> int:
    """Queues every pending delivery well past its due time: retries too far ahead for a
    countdown, first attempts whose message was lost, attempts whose worker died."""
    due = Delivery.objects.filter(
        state=Delivery.State.PENDING,
        next_attempt_at__lte=timezone.now() - timedelta(seconds=SWEEP_GRACE_S),
    ).values_list("pk", "attempts")
    count = 0
    for delivery_id, attempts in due.iterator():
        _queue(delivery_id, attempts)
        count += 1
    return count
