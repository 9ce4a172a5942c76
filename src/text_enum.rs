//! Text-backed enums: one declaration gives a closed set of values its wire
//! form (serde), its column form on every backend (diesel `Text`), its
//! OpenAPI schema (a string enum) and `FromStr`/`Display`.
//!
//! The stored text and the JSON text are the same string, so a status read
//! from a row can be answered as it is, and a value that is not in the set
//! can never be loaded: a row holding one fails to deserialise instead of
//! travelling through the code as a string.

/// Declares a text-backed enum. Used by the domain for statuses, roles,
/// credit classes, transport modes, lanes and the like.
macro_rules! text_enum {
    ($(#[doc = $doc:literal])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[doc = $doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stored and wire form.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "{other:?} is not one of {}",
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, DB>) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(self.as_str(), out)
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(bytes)?;
                text.parse().map_err(|e: String| format!(concat!(stringify!($name), " column: {}"), e).into())
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let description = [$($doc),*].map(str::trim).join(" ");
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .description((!description.is_empty()).then_some(description))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }
    };
}
pub(crate) use text_enum;

/// Declares an id newtype: a UUID kept as text, typed so that a booking id
/// can never be passed where a slot id is expected.
macro_rules! text_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id read from a request path, a body or a row.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }
            /// The id as stored.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The id as an owned string.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}
pub(crate) use text_id;

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    text_enum!(
        /// A set for the test.
        Colour {
            Red => "red",
            DarkBlue => "dark_blue",
        }
    );

    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        colour: Colour,
    }

    #[test]
    fn a_text_enum_round_trips_through_a_text_column() -> Result<(), Box<dyn std::error::Error>> {
        let mut conn = diesel::SqliteConnection::establish(":memory:")?;
        let rows: Vec<Row> =
            diesel::sql_query("SELECT ? AS colour").bind::<Text, _>(Colour::DarkBlue).load(&mut conn)?;
        assert_eq!(rows[0].colour, Colour::DarkBlue);
        let bad = diesel::sql_query("SELECT 'green' AS colour").load::<Row>(&mut conn);
        assert!(bad.is_err(), "a value outside the set must not load");
        assert_eq!(serde_json::to_string(&Colour::DarkBlue)?, "\"dark_blue\"");
        assert_eq!("red".parse::<Colour>(), Ok(Colour::Red));
        Ok(())
    }
}
