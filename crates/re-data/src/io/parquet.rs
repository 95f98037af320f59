//! Hugging Face parquet of `klue`/`re`: columns `guid` (string), `sentence` (string), `subject_entity` and
//! `object_entity` (struct `{word: string, start_idx: int32, end_idx: int32, type: string}`), `label` (int64, the
//! KLUE `ClassLabel` order, i.e. the active label map's ids) and `source` (string).
//!
//! Reading accepts `string`/`large_string`/`string_view` text columns and any 8–64-bit integer type for
//! offsets and labels; `source` may be missing; a null or `-1`/`100` label means unlabeled. Only uncompressed and
//! Snappy-compressed files are read (the build enables only the `snap` codec); other codecs give an error that says
//! which codec and how to re-save.
//!
//! Writing produces the same layout (int32 offsets, int64 labels by the given label map, null for unlabeled
//! records), Snappy-compressed.
use crate::error::{DataError, Result};
use crate::fsutil::write_atomic;
use crate::io::decode_int_label;
use crate::labels::LabelMap;
use crate::record::{Entity, RelationRecord};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type};
use arrow_array::{Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType, Field, Fields, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::path::Path;
use std::sync::Arc;

/// Read a klue/re-style parquet file; integer labels are decoded with `numeric_labels`.
pub fn read(path: &Path, numeric_labels: &LabelMap) -> Result<Vec<RelationRecord>> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| DataError::parse(path, "file footer", format!("not a readable parquet file: {e}")))?;
    check_codecs(path, builder.metadata())?;
    let reader = builder.build().map_err(|e| DataError::parse(path, "parquet", e.to_string()))?;
    let mut records = Vec::new();
    for batch in reader {
        let row_base = records.len();
        let batch = batch.map_err(|e| DataError::parse(path, format!("rows from {}", row_base + 1), e.to_string()))?;
        read_batch(&batch, row_base, path, numeric_labels, &mut records)?;
    }
    Ok(records)
}

/// Only uncompressed and Snappy column chunks can be decoded by this build.
fn check_codecs(path: &Path, meta: &parquet::file::metadata::ParquetMetaData) -> Result<()> {
    for (g, group) in meta.row_groups().iter().enumerate() {
        for column in group.columns() {
            let codec = column.compression();
            if !matches!(codec, Compression::UNCOMPRESSED | Compression::SNAPPY) {
                return Err(DataError::parse(
                    path,
                    format!("row group {g}, column {}", column.column_path()),
                    format!(
                        "compression {codec} is not supported (kre reads uncompressed or Snappy parquet); \
                         re-save the file with compression='snappy'"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A text column of any of Arrow's string layouts.
enum TextColumn<'a> {
    Utf8(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
}

impl TextColumn<'_> {
    fn get(&self, row: usize) -> Option<&str> {
        match self {
            TextColumn::Utf8(a) => a.is_valid(row).then(|| a.value(row)),
            TextColumn::Large(a) => a.is_valid(row).then(|| a.value(row)),
            TextColumn::View(a) => a.is_valid(row).then(|| a.value(row)),
        }
    }
}

fn text_column<'a>(array: &'a ArrayRef, name: &str, path: &Path) -> Result<TextColumn<'a>> {
    match array.data_type() {
        DataType::Utf8 => Ok(TextColumn::Utf8(array.as_string::<i32>())),
        DataType::LargeUtf8 => Ok(TextColumn::Large(array.as_string::<i64>())),
        DataType::Utf8View => Ok(TextColumn::View(array.as_string_view())),
        other => {
            Err(DataError::parse(path, format!("column {name}"), format!("expected a string column, found {other}")))
        }
    }
}

/// An integer column of any 8–64-bit type, read as i64.
fn int_value(array: &ArrayRef, row: usize) -> Option<i64> {
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::Int64 => Some(array.as_primitive::<Int64Type>().value(row)),
        DataType::Int32 => Some(array.as_primitive::<Int32Type>().value(row) as i64),
        DataType::Int16 => Some(array.as_primitive::<Int16Type>().value(row) as i64),
        DataType::Int8 => Some(array.as_primitive::<Int8Type>().value(row) as i64),
        DataType::UInt64 => i64::try_from(array.as_primitive::<UInt64Type>().value(row)).ok(),
        DataType::UInt32 => Some(array.as_primitive::<UInt32Type>().value(row) as i64),
        DataType::UInt16 => Some(array.as_primitive::<UInt16Type>().value(row) as i64),
        DataType::UInt8 => Some(array.as_primitive::<UInt8Type>().value(row) as i64),
        _ => None,
    }
}

fn check_int_column(array: &ArrayRef, name: &str, path: &Path) -> Result<()> {
    match array.data_type() {
        DataType::Int64
        | DataType::Int32
        | DataType::Int16
        | DataType::Int8
        | DataType::UInt64
        | DataType::UInt32
        | DataType::UInt16
        | DataType::UInt8 => Ok(()),
        other => {
            Err(DataError::parse(path, format!("column {name}"), format!("expected an integer column, found {other}")))
        }
    }
}

/// The four child columns of an entity struct column.
struct EntityColumns<'a> {
    name: &'static str,
    word: TextColumn<'a>,
    start: &'a ArrayRef,
    end: &'a ArrayRef,
    entity_type: TextColumn<'a>,
    parent: &'a StructArray,
}

fn entity_columns<'a>(batch: &'a RecordBatch, name: &'static str, path: &Path) -> Result<EntityColumns<'a>> {
    let column = required(batch, name, path)?;
    let parent = column.as_struct_opt().ok_or_else(|| {
        DataError::parse(
            path,
            format!("column {name}"),
            format!("expected a struct {{word, start_idx, end_idx, type}}, found {}", column.data_type()),
        )
    })?;
    let child = |field: &str| {
        parent.column_by_name(field).ok_or_else(|| {
            DataError::parse(path, format!("column {name}"), format!("the struct has no field {field:?}"))
        })
    };
    let start = child("start_idx")?;
    let end = child("end_idx")?;
    check_int_column(start, &format!("{name}.start_idx"), path)?;
    check_int_column(end, &format!("{name}.end_idx"), path)?;
    Ok(EntityColumns {
        name,
        word: text_column(child("word")?, &format!("{name}.word"), path)?,
        start,
        end,
        entity_type: text_column(child("type")?, &format!("{name}.type"), path)?,
        parent,
    })
}

impl EntityColumns<'_> {
    fn entity(&self, row: usize) -> std::result::Result<Entity, String> {
        let n = self.name;
        if self.parent.is_null(row) {
            return Err(format!("{n} is null"));
        }
        let word = self.word.get(row).ok_or_else(|| format!("{n}.word is null"))?;
        let index = |a: &ArrayRef, field: &str| {
            let v = int_value(a, row).ok_or_else(|| format!("{n}.{field} is null"))?;
            usize::try_from(v).map_err(|_| format!("{n}.{field} is negative ({v})"))
        };
        let entity_type = self.entity_type.get(row).ok_or_else(|| format!("{n}.type is null"))?;
        Ok(Entity::new(word, index(self.start, "start_idx")?, index(self.end, "end_idx")?, entity_type))
    }
}

fn required<'a>(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a ArrayRef> {
    batch.column_by_name(name).ok_or_else(|| {
        let found: Vec<_> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        DataError::parse(
            path,
            "schema",
            format!(
                "missing column {name:?} (found: {}; expected guid, sentence, subject_entity, object_entity, label, source)",
                found.join(", ")
            ),
        )
    })
}

fn read_batch(
    batch: &RecordBatch,
    row_base: usize,
    path: &Path,
    numeric_labels: &LabelMap,
    out: &mut Vec<RelationRecord>,
) -> Result<()> {
    let guid = text_column(required(batch, "guid", path)?, "guid", path)?;
    let sentence = text_column(required(batch, "sentence", path)?, "sentence", path)?;
    let subject = entity_columns(batch, "subject_entity", path)?;
    let object = entity_columns(batch, "object_entity", path)?;
    let label = required(batch, "label", path)?;
    let label_text = match label.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(text_column(label, "label", path)?),
        _ => {
            check_int_column(label, "label", path)?;
            None
        }
    };
    let source = match batch.column_by_name("source") {
        Some(c) => Some(text_column(c, "source", path)?),
        None => None,
    };
    for row in 0..batch.num_rows() {
        let row_no = row_base + row + 1;
        let id = guid.get(row).map(str::to_string);
        let locate = || match &id {
            Some(g) => format!("row {row_no} (guid={g})"),
            None => format!("row {row_no}"),
        };
        let fail = |msg: String| DataError::parse(path, locate(), msg);
        let id_value = id.clone().ok_or_else(|| fail("guid is null".into()))?;
        let sentence = sentence.get(row).ok_or_else(|| fail("sentence is null".into()))?.to_string();
        let subject = subject.entity(row).map_err(fail)?;
        let object = object.entity(row).map_err(fail)?;
        let label = match &label_text {
            Some(t) => t.get(row).map(str::to_string),
            None => match int_value(label, row) {
                None => None,
                Some(i) => decode_int_label(i, numeric_labels)
                    .map_err(|msg| DataError::invalid_record(path, format!("id={id_value}"), msg))?,
            },
        };
        let source = source.as_ref().and_then(|s| s.get(row)).map(str::to_string);
        out.push(RelationRecord { id: id_value, sentence, subject, object, label, source });
    }
    Ok(())
}

fn entity_fields() -> Fields {
    Fields::from(vec![
        Field::new("word", DataType::Utf8, false),
        Field::new("start_idx", DataType::Int32, false),
        Field::new("end_idx", DataType::Int32, false),
        Field::new("type", DataType::Utf8, false),
    ])
}

/// The schema written by [`write`] (the klue/re layout).
pub fn klue_schema() -> Schema {
    Schema::new(vec![
        Field::new("guid", DataType::Utf8, false),
        Field::new("sentence", DataType::Utf8, false),
        Field::new("subject_entity", DataType::Struct(entity_fields()), false),
        Field::new("object_entity", DataType::Struct(entity_fields()), false),
        Field::new("label", DataType::Int64, true),
        Field::new("source", DataType::Utf8, true),
    ])
}

fn entity_array(entities: &[&Entity], path: &Path) -> Result<StructArray> {
    let offset = |v: usize, what: &str| {
        i32::try_from(v).map_err(|_| DataError::Invalid(format!("{}: {what} {v} does not fit int32", path.display())))
    };
    let words: StringArray = entities.iter().map(|e| Some(e.word.as_str())).collect();
    let starts = entities.iter().map(|e| offset(e.start, "start_idx")).collect::<Result<Vec<_>>>()?;
    let ends = entities.iter().map(|e| offset(e.end, "end_idx")).collect::<Result<Vec<_>>>()?;
    let types: StringArray = entities.iter().map(|e| Some(e.entity_type.as_str())).collect();
    let fields = entity_fields();
    let arrays: Vec<ArrayRef> =
        vec![Arc::new(words), Arc::new(Int32Array::from(starts)), Arc::new(Int32Array::from(ends)), Arc::new(types)];
    StructArray::try_new(fields, arrays, None).map_err(|e| DataError::Invalid(format!("{}: {e}", path.display())))
}

/// Serialize records as parquet bytes (labels as ids of `labels`).
pub fn to_bytes(path: &Path, records: &[RelationRecord], labels: &LabelMap) -> Result<Vec<u8>> {
    let label_ids = records
        .iter()
        .map(|r| match &r.label {
            None => Ok(None),
            Some(l) => labels.id(l).map(|i| Some(i as i64)).ok_or_else(|| {
                DataError::invalid_record(
                    path,
                    format!("id={}", r.id),
                    format!("label {l:?} is not in {} (parquet stores label ids)", labels.describe()),
                )
            }),
        })
        .collect::<Result<Vec<_>>>()?;
    let schema = Arc::new(klue_schema());
    let subjects: Vec<&Entity> = records.iter().map(|r| &r.subject).collect();
    let objects: Vec<&Entity> = records.iter().map(|r| &r.object).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(records.iter().map(|r| Some(r.id.as_str())).collect::<StringArray>()),
        Arc::new(records.iter().map(|r| Some(r.sentence.as_str())).collect::<StringArray>()),
        Arc::new(entity_array(&subjects, path)?),
        Arc::new(entity_array(&objects, path)?),
        Arc::new(Int64Array::from(label_ids)),
        Arc::new(records.iter().map(|r| r.source.as_deref()).collect::<StringArray>()),
    ];
    let fail = |e: &dyn std::fmt::Display| DataError::Invalid(format!("{}: writing parquet: {e}", path.display()));
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| fail(&e))?;
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut writer = ArrowWriter::try_new(Vec::new(), schema, Some(props)).map_err(|e| fail(&e))?;
    writer.write(&batch).map_err(|e| fail(&e))?;
    writer.into_inner().map_err(|e| fail(&e))
}

/// Write a klue/re-style parquet file atomically.
pub fn write(path: &Path, records: &[RelationRecord], labels: &LabelMap) -> Result<()> {
    let bytes = to_bytes(path, records, labels)?;
    write_atomic(path, &bytes)
}
