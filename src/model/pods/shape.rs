//! The parts of a pod document that [`super::containers`] reads, taken
//! straight from serde: from the document's text, or from a
//! `serde_json::Value` already parsed.
//!
//! `kubectl get pods -A -o json` prints about 300 bytes of JSON per
//! container that nobody here reads (labels, probes, mounts, conditions).
//! Parsed into a `serde_json::Value`, every one of its strings, arrays and
//! objects is allocated and then dropped: 38 % of classifying 10,000 pod
//! containers end to end (docs/benchmarks.md, twenty-first run). These types
//! keep only the strings the walk reads, borrowed from the text where it has
//! no escapes, and skip the rest.
//!
//! Every type here accepts any JSON value: a field of the wrong type reads as
//! if it were absent (as `Value::get` and `Value::as_str` read it), so that a
//! malformed pod stays one error among the others instead of failing the
//! whole document. Skipped values are still parsed as `Value` would parse
//! them (strings, escapes and numbers checked), so a text is accepted here
//! exactly when `serde_json::from_str::<Value>` accepts it. Of repeated keys
//! the last one counts, as in a `Value`'s map.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// A string value, borrowed where the text allows it.
pub(super) type Text<'de> = Cow<'de, str>;

/// The document: a `List`/`PodList` (its `kind` and `items`) or one `Pod`
/// (the same object's pod fields).
#[derive(Default)]
pub(super) struct Document<'de> {
    /// `kind`, when it is a string.
    pub kind: Option<Text<'de>>,
    /// `items`.
    pub items: ListField<Pod<'de>>,
    /// The object's own pod fields, read when `kind` is `Pod`.
    pub pod: Pod<'de>,
}

/// One pod, or anything else where a pod was expected (which has none of
/// its fields).
#[derive(Default)]
pub(super) struct Pod<'de> {
    /// `metadata.namespace`, when a string.
    pub namespace: Option<Text<'de>>,
    /// `metadata.name`, when a string.
    pub name: Option<Text<'de>>,
    /// `spec`, when an object.
    pub spec: Option<Lists<'de>>,
    /// `status`, when an object.
    pub status: Option<Lists<'de>>,
}

/// The three container lists of a spec (`initContainers`, `containers`,
/// `ephemeralContainers`), or of a status (the same names with `Statuses`
/// for `s`), in that order.
#[derive(Default)]
pub(super) struct Lists<'de> {
    pub lists: [ListField<Entry<'de>>; 3],
}

/// A field that should hold an array.
#[derive(Default)]
pub(super) enum ListField<T> {
    /// Not in the object.
    #[default]
    Absent,
    /// Something other than an array.
    NotAnArray,
    /// The array's entries (an entry that is not an object reads as one
    /// without fields).
    Entries(Vec<T>),
}

impl<T: Default> ListField<T> {
    fn read(array: Array<Object<T>>) -> Self {
        match array.0 {
            None => Self::NotAnArray,
            Some(entries) => Self::Entries(
                entries
                    .into_iter()
                    .map(|e| e.0.unwrap_or_default())
                    .collect(),
            ),
        }
    }

    /// The entries, when the field is an array.
    pub fn entries(&self) -> Option<&[T]> {
        match self {
            Self::Entries(entries) => Some(entries),
            Self::Absent | Self::NotAnArray => None,
        }
    }
}

/// A container of a spec or a container status: the string fields the walk
/// reads (`name`, `image` of a container; `name`, `imageID` of a status).
#[derive(Default)]
pub(super) struct Entry<'de> {
    pub name: Option<Text<'de>>,
    pub image: Option<Text<'de>>,
    pub image_id: Option<Text<'de>>,
}

/// An object's fields, read one key at a time: `field` reads the value of
/// key number `key` of [`Fields::KEYS`] from `map`.
trait Fields<'de>: Default {
    const KEYS: &'static [&'static str];
    fn field<A: MapAccess<'de>>(&mut self, key: usize, map: &mut A) -> Result<(), A::Error>;
}

impl<'de> Fields<'de> for Document<'de> {
    const KEYS: &'static [&'static str] = &["kind", "items", "metadata", "spec", "status"];

    fn field<A: MapAccess<'de>>(&mut self, key: usize, map: &mut A) -> Result<(), A::Error> {
        match key {
            0 => self.kind = map.next_value::<Str>()?.0,
            1 => self.items = ListField::read(map.next_value()?),
            _ => self.pod.field(key - 2, map)?,
        }
        Ok(())
    }
}

impl<'de> Fields<'de> for Pod<'de> {
    const KEYS: &'static [&'static str] = &["metadata", "spec", "status"];

    fn field<A: MapAccess<'de>>(&mut self, key: usize, map: &mut A) -> Result<(), A::Error> {
        match key {
            0 => {
                let meta = map.next_value::<Object<Metadata>>()?.0.unwrap_or_default();
                (self.namespace, self.name) = (meta.namespace, meta.name);
            }
            1 => self.spec = map.next_value::<Object<Spec>>()?.0.map(|s| s.0),
            _ => self.status = map.next_value::<Object<Status>>()?.0.map(|s| s.0),
        }
        Ok(())
    }
}

#[derive(Default)]
struct Metadata<'de> {
    namespace: Option<Text<'de>>,
    name: Option<Text<'de>>,
}

impl<'de> Fields<'de> for Metadata<'de> {
    const KEYS: &'static [&'static str] = &["namespace", "name"];

    fn field<A: MapAccess<'de>>(&mut self, key: usize, map: &mut A) -> Result<(), A::Error> {
        let value = map.next_value::<Str>()?.0;
        if key == 0 {
            self.namespace = value;
        } else {
            self.name = value;
        }
        Ok(())
    }
}

/// [`Lists`] read with a spec's keys.
#[derive(Default)]
struct Spec<'de>(Lists<'de>);

/// [`Lists`] read with a status's keys.
#[derive(Default)]
struct Status<'de>(Lists<'de>);

impl<'de> Fields<'de> for Spec<'de> {
    const KEYS: &'static [&'static str] = &["initContainers", "containers", "ephemeralContainers"];

    fn field<A: MapAccess<'de>>(&mut self, key: usize, map: &mut A) -> Result<(), A::Error> {
        self.0.read(key, map)
    }
}

impl<'de> Fields<'de> for Status<'de> {
    const KEYS: &'static [&'static str] = &[
        "initContainerStatuses",
        "containerStatuses",
        "ephemeralContainerStatuses",
    ];

    fn field<A: MapAccess<'de>>(&mut self, key: usize, map: &mut A) -> Result<(), A::Error> {
        self.0.read(key, map)
    }
}

impl<'de> Lists<'de> {
    fn read<A: MapAccess<'de>>(&mut self, key: usize, map: &mut A) -> Result<(), A::Error> {
        let list = ListField::read(map.next_value()?);
        if let Some(slot) = self.lists.get_mut(key) {
            *slot = list;
        }
        Ok(())
    }
}

impl<'de> Fields<'de> for Entry<'de> {
    const KEYS: &'static [&'static str] = &["name", "image", "imageID"];

    fn field<A: MapAccess<'de>>(&mut self, key: usize, map: &mut A) -> Result<(), A::Error> {
        let value = map.next_value::<Str>()?.0;
        match key {
            0 => self.name = value,
            1 => self.image = value,
            _ => self.image_id = value,
        }
        Ok(())
    }
}

/// Whether the document is an object, and its fields: the walk needs both.
pub(super) struct Top<'de>(pub Option<Document<'de>>);

impl<'de> Deserialize<'de> for Top<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Top(Object::<Document>::deserialize(d)?.0))
    }
}

/// A value that is a string (`Some`), or anything else (`None`, skipped).
struct Str<'de>(Option<Text<'de>>);

/// A value that is an array of `T` (`Some`), or anything else.
struct Array<T>(Option<Vec<T>>);

/// A value that is an object with fields `T` (`Some`), or anything else.
struct Object<T>(Option<T>);

/// Any value, parsed and dropped.
struct Skip;

/// What a visitor does with each kind of value it does not want: parse it
/// (so that a text is accepted exactly as `Value` accepts it) and answer
/// `$out`. Scalars always; strings, arrays and objects where named.
macro_rules! skip_the_rest {
    ($out:expr $(, $kind:ident)*) => {
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            Skip::deserialize(d)?;
            Ok($out)
        }
        $(skip_the_rest!(@$kind $out);)*
    };
    (@strings $out:expr) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($out)
        }
    };
    (@arrays $out:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            skip_seq(seq).map(|()| $out)
        }
    };
    (@objects $out:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            skip_map(map).map(|()| $out)
        }
    };
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Skip>()?.is_some() {}
    Ok(())
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<Skip, Skip>()?.is_some() {}
    Ok(())
}

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Skip;
            skip_the_rest!(Skip, strings, arrays, objects);
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            skip_the_rest!(Str(None), arrays, objects);
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Borrowed(s))))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Owned(s.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Owned(s))))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Array<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Array<T>;
            skip_the_rest!(Array(None), strings, objects);
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                // Not sized from `size_hint`: the document says how long it is.
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<T>()? {
                    out.push(item);
                }
                Ok(Array(Some(out)))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl<'de, T: Fields<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Fields<'de>> Visitor<'de> for V<T> {
            type Value = Object<T>;
            skip_the_rest!(Object(None), strings, arrays);
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = T::default();
                while let Some(key) = map.next_key_seed(KeyOf(T::KEYS))? {
                    match key {
                        Some(k) => fields.field(k, &mut map)?,
                        None => {
                            map.next_value::<Skip>()?;
                        }
                    }
                }
                Ok(Object(Some(fields)))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A key: its number among `keys`, or `None` for a key the walk does not
/// read. Compared where it lies in the text: no key is allocated.
struct KeyOf(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for KeyOf {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyOf {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|k| *k == s))
    }
}
