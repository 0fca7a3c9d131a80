//! Column-oriented tables written as CSV and Parquet.

use crate::ReportError;
use parquet::basic::{Compression, ConvertedType, Repetition, Type as PhysicalType};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use std::io::Write;
use std::sync::Arc;

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// 64-bit floats (Parquet DOUBLE).
    F64(Vec<f64>),
    /// 64-bit integers (Parquet INT64).
    I64(Vec<i64>),
    /// UTF-8 strings (Parquet BYTE_ARRAY, UTF8).
    Str(Vec<String>),
}

impl Column {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Column::F64(v) => v.len(),
            Column::I64(v) => v.len(),
            Column::Str(v) => v.len(),
        }
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value in row `i` as CSV text. Floats use Rust's shortest round-trip form.
    pub fn cell(&self, i: usize) -> String {
        match self {
            Column::F64(v) => fmt_f64(v[i]),
            Column::I64(v) => v[i].to_string(),
            Column::Str(v) => v[i].clone(),
        }
    }
}

/// Floats as CSV/HTML text: shortest round-trip, empty for NaN/infinite.
pub(crate) fn fmt_f64(x: f64) -> String {
    if x.is_finite() { format!("{x}") } else { String::new() }
}

/// A table of named, equally long columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    names: Vec<String>,
    columns: Vec<Column>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Table {
        Table::default()
    }

    /// Appends a column. Errors on a duplicate name or a length that differs from the others.
    pub fn add(&mut self, name: &str, column: Column) -> Result<&mut Table, ReportError> {
        let err = |message: String| ReportError::Column { name: name.to_string(), message };
        if self.names.iter().any(|n| n == name) {
            return Err(err("duplicate column name".into()));
        }
        if let Some(first) = self.columns.first()
            && first.len() != column.len()
        {
            return Err(err(format!("has {} rows, the table has {}", column.len(), first.len())));
        }
        self.names.push(name.to_string());
        self.columns.push(column);
        Ok(self)
    }

    /// Column names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Columns, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.names.iter().position(|n| n == name).map(|i| &self.columns[i])
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    /// Writes CSV with a header row.
    pub fn write_csv<W: Write>(&self, w: W) -> Result<(), ReportError> {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(&self.names)?;
        for i in 0..self.rows() {
            out.write_record(self.columns.iter().map(|c| c.cell(i)))?;
        }
        out.flush().map_err(|e| ReportError::Io { path: "<csv>".into(), error: e })?;
        Ok(())
    }

    /// CSV text with a header row.
    pub fn to_csv_string(&self) -> Result<String, ReportError> {
        let mut buf = Vec::new();
        self.write_csv(&mut buf)?;
        Ok(String::from_utf8(buf).expect("csv writer emits the UTF-8 it was given"))
    }

    /// Writes a Parquet file (one row group, Snappy, all columns REQUIRED).
    pub fn write_parquet<W: Write + Send>(&self, w: W) -> Result<(), ReportError> {
        let mut fields = Vec::with_capacity(self.columns.len());
        for (name, col) in self.names.iter().zip(&self.columns) {
            let b = match col {
                Column::F64(_) => Type::primitive_type_builder(name, PhysicalType::DOUBLE),
                Column::I64(_) => Type::primitive_type_builder(name, PhysicalType::INT64),
                Column::Str(_) => Type::primitive_type_builder(name, PhysicalType::BYTE_ARRAY)
                    .with_converted_type(ConvertedType::UTF8),
            };
            fields.push(Arc::new(b.with_repetition(Repetition::REQUIRED).build()?));
        }
        let schema = Arc::new(Type::group_type_builder("schema").with_fields(fields).build()?);
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("tokenfab-report {}", env!("CARGO_PKG_VERSION")))
            .build();
        let mut writer = SerializedFileWriter::new(w, schema, Arc::new(props))?;
        let mut group = writer.next_row_group()?;
        let mut i = 0;
        while let Some(mut cw) = group.next_column()? {
            match &self.columns[i] {
                Column::F64(v) => {
                    cw.typed::<DoubleType>().write_batch(v, None, None)?;
                }
                Column::I64(v) => {
                    cw.typed::<Int64Type>().write_batch(v, None, None)?;
                }
                Column::Str(v) => {
                    let bytes: Vec<ByteArray> = v.iter().map(|s| ByteArray::from(s.as_str())).collect();
                    cw.typed::<ByteArrayType>().write_batch(&bytes, None, None)?;
                }
            }
            cw.close()?;
            i += 1;
        }
        group.close()?;
        writer.close()?;
        Ok(())
    }

    /// Parquet file bytes.
    pub fn to_parquet_bytes(&self) -> Result<Vec<u8>, ReportError> {
        let mut buf = Vec::new();
        self.write_parquet(&mut buf)?;
        Ok(buf)
    }
}
