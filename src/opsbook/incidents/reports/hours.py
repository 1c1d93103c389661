"""When a page interrupts someone: business hours, evenings and weekends, or sleep.

The buckets are PagerDuty's "interruptions" (Analytics, Operational Reviews), in the
paged person's own time zone:

- **business hours**: 08:00 to 18:00, Monday to Friday;
- **off hours** (evenings and weekends): 18:00 to 22:00 Monday to Friday, and 08:00 to 22:00
  on Saturday and Sunday;
- **sleep hours**: 22:00 to 08:00, every day.

Every instant falls in exactly one bucket; sleep hours win over the weekend.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

Bucket = Literal["business_hours", "off_hours", "sleep_hours"]
BUCKETS: Final[tuple[Bucket, ...]] = get_args(Bucket)
BUCKET_LABELS: Final[dict[Bucket, str]] = {
    "business_hours": "business hours",
    "off_hours": "evenings and weekends",
    "sleep_hours": "sleep hours",
}
DAY_STARTS, EVENING_STARTS, NIGHT_STARTS = 8, 18, 22


def bucket_of(at: datetime, zone: ZoneInfo) -> Bucket:
    """Which bucket ``at`` falls in for someone living in ``zone``."""
    local = at.astimezone(zone)
    if local.hour >= NIGHT_STARTS or local.hour < DAY_STARTS:
        return "sleep_hours"
    if local.weekday() >= 5 or local.hour >= EVENING_STARTS:
        return "off_hours"
    return "business_hours"
