//! Typed ids: each entity's id is its own type, so that a booking id can
//! never be passed where a slot id is expected. Stored as text (UUIDs).

use crate::text_enum::text_id;

text_id!(
    /// An enterprise (a company registered with customs).
    EnterpriseId
);
text_id!(
    /// A user account, company or customs.
    UserId
);
text_id!(
    /// A clearance site.
    SiteId
);
text_id!(
    /// A schedule of a site and transport mode.
    ScheduleId
);
text_id!(
    /// A clearance slot.
    SlotId
);
text_id!(
    /// A customs declaration.
    DeclarationId
);
text_id!(
    /// A booking of a slot.
    BookingId
);
text_id!(
    /// A webhook endpoint of an enterprise.
    WebhookId
);
