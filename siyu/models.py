"""Every table of every domain, for migrations and tests (wiring only)."""

from siyu.analytics.models import AnalyticsSettings, SnapshotState
from siyu.audit.models import AuditEntry
from siyu.claims.models import Claim
from siyu.engagement.checkin.models import Checkin, Reminder
from siyu.engagement.missions.models import Completion, Review, Task
from siyu.engagement.referrals.models import InviteCode, Leaderboard, Prize, Referral
from siyu.engagement.referrals.models import Rules as ReferralRules
from siyu.fans.models import RefreshToken, SmsCode
from siyu.groups.models import FanGroup, GroupMember
from siyu.jobs.models import Job
from siyu.kit.db import Base
from siyu.ledger.models import Allocation, Balance, Entry, Lot
from siyu.live.models import Product as LiveProduct
from siyu.live.models import Reservation as LiveReservation
from siyu.live.models import Show as LiveShow
from siyu.loyalty.models import Campaign, CampaignAward, ExpiryWarning, MemberTier, Tier, TierChange
from siyu.mall.models import Address, Code, Redemption, Reward
from siyu.members.models import Identity, Member
from siyu.notices.models import Consent, Delivery, Notice, OptOut, WebhookEndpoint
from siyu.orders.models import ColumnMapping, ImportRejection, Order, OrderChange, OrderImport, SubOrder
from siyu.segments.models import MemberTag, Segment, SegmentSend, Tag
from siyu.staff.models import ApiKey, Membership, StaffSession, StaffUser
from siyu.tenants.models import Channel, Tenant
from siyu.trials.models import Application as TrialApplication
from siyu.trials.models import Report as TrialReport
from siyu.trials.models import Trial
from siyu.voice.models import Answer as VoiceAnswer
from siyu.voice.models import Demand as VoiceDemand
from siyu.voice.models import EncoreVote as VoiceEncoreVote
from siyu.voice.models import Survey as VoiceSurvey
from siyu.voice.models import Wish as VoiceWish
from siyu.voice.models import WishVote as VoiceWishVote

metadata = Base.metadata

__all__ = [
    "Address",
    "Allocation",
    "AnalyticsSettings",
    "ApiKey",
    "AuditEntry",
    "Balance",
    "Campaign",
    "CampaignAward",
    "Channel",
    "Checkin",
    "Claim",
    "Code",
    "ColumnMapping",
    "Completion",
    "Consent",
    "Delivery",
    "Entry",
    "ExpiryWarning",
    "FanGroup",
    "GroupMember",
    "Identity",
    "ImportRejection",
    "InviteCode",
    "Job",
    "Leaderboard",
    "LiveProduct",
    "LiveReservation",
    "LiveShow",
    "Lot",
    "Member",
    "MemberTag",
    "MemberTier",
    "Membership",
    "Notice",
    "OptOut",
    "Order",
    "OrderChange",
    "OrderImport",
    "Prize",
    "Redemption",
    "Referral",
    "ReferralRules",
    "RefreshToken",
    "Reminder",
    "Review",
    "Reward",
    "Segment",
    "SegmentSend",
    "SmsCode",
    "SnapshotState",
    "StaffSession",
    "StaffUser",
    "SubOrder",
    "Tag",
    "Task",
    "Tenant",
    "Tier",
    "TierChange",
    "Trial",
    "TrialApplication",
    "TrialReport",
    "VoiceAnswer",
    "VoiceDemand",
    "VoiceEncoreVote",
    "VoiceSurvey",
    "VoiceWish",
    "VoiceWishVote",
    "WebhookEndpoint",
    "metadata",
]
