//! Webhook deliveries: where one stands.

use crate::text_enum::text_enum;

text_enum!(
    /// Where a webhook delivery stands.
    DeliveryStatus {
        Pending => "pending",
        Delivered => "delivered",
        Dead => "dead",
    }
);
