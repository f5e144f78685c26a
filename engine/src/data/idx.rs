//! The IDX file format of MNIST and Fashion-MNIST, raw or gzip-compressed.
//!
//! An IDX file is a 4-byte magic number `0x00 0x00 <type> <rank>`, then `rank`
//! big-endian `u32` dimensions, then the elements in row-major order, big-endian.
//! Element types and the Born dtype each becomes:
//!
//! | code | IDX type | Born dtype |
//! | --- | --- | --- |
//! | `0x08` | unsigned byte | `U8` |
//! | `0x09` | signed byte | `I32` |
//! | `0x0B` | `i16` | `I32` |
//! | `0x0C` | `i32` | `I32` |
//! | `0x0D` | `f32` | `F32` |
//! | `0x0E` | `f64` | `F64` |
//!
//! Gzip is detected by its magic bytes (`1f 8b`), not by the file name. A broken
//! file gives an error that names the field at fault; the parser never panics and
//! never allocates from a size it read in the header before checking it against
//! the data actually present.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::HostBuffer;
use crate::tensor::Tensor;
use std::io::Read;
use std::path::Path;

/// The largest rank an IDX file may declare here.
pub const MAX_RANK: usize = 8;

/// An IDX element type: its header code, size in bytes and Born dtype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdxType {
    /// `0x08`: unsigned byte, read as `U8`.
    U8,
    /// `0x09`: signed byte, read as `I32`.
    I8,
    /// `0x0B`: big-endian `i16`, read as `I32`.
    I16,
    /// `0x0C`: big-endian `i32`, read as `I32`.
    I32,
    /// `0x0D`: big-endian `f32`, read as `F32`.
    F32,
    /// `0x0E`: big-endian `f64`, read as `F64`.
    F64,
}

impl IdxType {
    /// The type for a header code, if it is one of the six IDX types.
    pub fn from_code(code: u8) -> Option<IdxType> {
        Some(match code {
            0x08 => IdxType::U8,
            0x09 => IdxType::I8,
            0x0B => IdxType::I16,
            0x0C => IdxType::I32,
            0x0D => IdxType::F32,
            0x0E => IdxType::F64,
            _ => return None,
        })
    }

    /// The header code.
    pub fn code(self) -> u8 {
        match self {
            IdxType::U8 => 0x08,
            IdxType::I8 => 0x09,
            IdxType::I16 => 0x0B,
            IdxType::I32 => 0x0C,
            IdxType::F32 => 0x0D,
            IdxType::F64 => 0x0E,
        }
    }

    /// Bytes per element in the file.
    pub fn size(self) -> usize {
        match self {
            IdxType::U8 | IdxType::I8 => 1,
            IdxType::I16 => 2,
            IdxType::I32 | IdxType::F32 => 4,
            IdxType::F64 => 8,
        }
    }

    /// The Born dtype the elements are read as.
    pub fn dtype(self) -> DType {
        match self {
            IdxType::U8 => DType::U8,
            IdxType::I8 | IdxType::I16 | IdxType::I32 => DType::I32,
            IdxType::F32 => DType::F32,
            IdxType::F64 => DType::F64,
        }
    }
}

/// What the header of an IDX file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The element type.
    pub dtype: IdxType,
    /// The dimensions, outermost first.
    pub dims: Vec<usize>,
}

impl Header {
    /// Header size in bytes: 4 + 4 per dimension.
    pub fn len(&self) -> usize {
        4 + 4 * self.dims.len()
    }

    /// Always false: a header has at least its 4-byte magic.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Bytes of element data the header announces (checked for overflow).
    pub fn data_len(&self) -> Result<usize> {
        let overflow = || {
            err(format!(
                "dims: the product of the dimensions {:?} times {} bytes per element overflows",
                self.dims,
                self.dtype.size()
            ))
        };
        let mut n = self.dtype.size();
        for &d in &self.dims {
            n = n.checked_mul(d).ok_or_else(overflow)?;
        }
        // Also keep the element count representable as an isize (Vec's limit).
        if n > isize::MAX as usize {
            return Err(overflow());
        }
        Ok(n)
    }
}

fn err(reason: impl Into<String>) -> Error {
    Error::arg("idx", reason)
}

/// True if `bytes` start with the gzip magic number.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

/// Reads an IDX file (raw or gzip) into a realized tensor.
///
/// ```no_run
/// let labels = born::data::idx::read("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")?;
/// assert_eq!(labels.shape(), &[10_000]);
/// # Ok::<(), born::Error>(())
/// ```
pub fn read(path: impl AsRef<Path>) -> Result<Tensor> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
    parse(&bytes).map_err(|e| match e {
        Error::InvalidArgument { op, reason } => Error::InvalidArgument {
            op,
            reason: format!("{}: {reason}", path.display()),
        },
        other => other,
    })
}

/// Parses the bytes of an IDX file (raw or gzip, detected by magic bytes).
pub fn parse(bytes: &[u8]) -> Result<Tensor> {
    if is_gzip(bytes) {
        let mut dec = flate2::read::MultiGzDecoder::new(bytes);
        parse_stream(&mut dec, true)
    } else {
        let mut slice = bytes;
        parse_stream(&mut slice, false)
    }
}

/// Reads exactly `buf.len()` bytes, or reports how many there were.
fn fill(r: &mut impl Read, buf: &mut [u8], gz: bool) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e, gz)),
        }
    }
    Ok(got)
}

fn io_err(e: std::io::Error, gz: bool) -> Error {
    if gz {
        err(format!("gzip: the compressed stream is corrupt ({e})"))
    } else {
        err(format!("read error: {e}"))
    }
}

/// Parses the header from a reader.
pub fn parse_header(r: &mut impl Read) -> Result<Header> {
    parse_header_inner(r, false)
}

fn parse_header_inner(r: &mut impl Read, gz: bool) -> Result<Header> {
    let mut magic = [0u8; 4];
    let got = fill(r, &mut magic, gz)?;
    if got < 4 {
        return Err(err(format!(
            "magic: truncated header: expected 4 bytes of magic number, got {got}"
        )));
    }
    if magic[0] != 0 || magic[1] != 0 {
        return Err(err(format!(
            "magic: bad magic number {:02x} {:02x} {:02x} {:02x}: an IDX file starts with 00 00 <type> <rank>",
            magic[0], magic[1], magic[2], magic[3]
        )));
    }
    let dtype = IdxType::from_code(magic[2]).ok_or_else(|| {
        err(format!(
            "dtype: unknown element type code 0x{:02x} (valid: 0x08 u8, 0x09 i8, 0x0b i16, 0x0c i32, 0x0d f32, 0x0e f64)",
            magic[2]
        ))
    })?;
    let rank = magic[3] as usize;
    if rank == 0 || rank > MAX_RANK {
        return Err(err(format!("rank: {rank} is not supported (valid: 1..={MAX_RANK})")));
    }
    let mut raw = vec![0u8; 4 * rank];
    let got = fill(r, &mut raw, gz)?;
    if got < raw.len() {
        return Err(err(format!(
            "dims: truncated header: expected {} bytes for {rank} dimensions, got {got}",
            raw.len()
        )));
    }
    let dims = raw
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    Ok(Header { dtype, dims })
}

fn parse_stream(r: &mut impl Read, gz: bool) -> Result<Tensor> {
    let header = parse_header_inner(r, gz)?;
    let expected = header.data_len()?;
    // Read at most one byte more than announced: enough to detect trailing bytes,
    // and a gzip stream that inflates without end cannot exhaust memory.
    let mut data = Vec::new();
    r.take(expected as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| io_err(e, gz))?;
    if data.len() < expected {
        return Err(err(format!(
            "data: truncated: expected {expected} bytes for dims {:?} of {:?}, got {}",
            header.dims,
            header.dtype,
            data.len()
        )));
    }
    if data.len() > expected {
        return Err(err(format!(
            "data: trailing bytes after the {expected} bytes that dims {:?} of {:?} announce",
            header.dims, header.dtype
        )));
    }
    let buf = decode(header.dtype, data);
    Ok(Tensor::from_host(buf, &header.dims))
}

fn decode(ty: IdxType, data: Vec<u8>) -> HostBuffer {
    match ty {
        IdxType::U8 => HostBuffer::U8(data),
        IdxType::I8 => HostBuffer::I32(data.iter().map(|&b| b as i8 as i32).collect()),
        IdxType::I16 => HostBuffer::I32(
            data.chunks_exact(2)
                .map(|c| i16::from_be_bytes([c[0], c[1]]) as i32)
                .collect(),
        ),
        IdxType::I32 => HostBuffer::I32(
            data.chunks_exact(4)
                .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        IdxType::F32 => HostBuffer::F32(
            data.chunks_exact(4)
                .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        IdxType::F64 => HostBuffer::F64(
            data.chunks_exact(8)
                .map(|c| f64::from_be_bytes(c.try_into().expect("chunks of 8")))
                .collect(),
        ),
    }
}

/// Encodes a tensor as raw (uncompressed) IDX bytes.
///
/// `U8` is written as unsigned bytes, `I32` as `i32`, `F32` and `F64` as
/// themselves; `I64` is written as `i32` when every value fits. Other dtypes,
/// and 0-d tensors or ranks above [`MAX_RANK`], are errors.
pub fn encode(t: &Tensor) -> Result<Vec<u8>> {
    let rank = t.shape().len();
    if rank == 0 || rank > MAX_RANK {
        return Err(err(format!("rank: {rank} cannot be written (valid: 1..={MAX_RANK})")));
    }
    if let Some(&d) = t.shape().iter().find(|&&d| d > u32::MAX as usize) {
        return Err(err(format!("dims: {d} does not fit in the u32 of an IDX header")));
    }
    let ty = match t.dtype() {
        DType::U8 => IdxType::U8,
        DType::I32 | DType::I64 => IdxType::I32,
        DType::F32 => IdxType::F32,
        DType::F64 => IdxType::F64,
        other => {
            return Err(Error::UnsupportedDType {
                op: "idx::encode",
                dtype: other,
                reason: "IDX holds u8, i32, f32 or f64".into(),
            })
        }
    };
    let mut out = vec![0, 0, ty.code(), rank as u8];
    for &d in t.shape() {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    match ty {
        IdxType::U8 => out.extend(t.try_to_vec::<u8>()?),
        IdxType::I32 => {
            let v: Vec<i64> = t.try_to_vec()?;
            for x in v {
                let x = i32::try_from(x).map_err(|_| err(format!("data: {x} does not fit in an IDX i32")))?;
                out.extend_from_slice(&x.to_be_bytes());
            }
        }
        IdxType::F32 => t
            .try_to_vec::<f32>()?
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
        _ => t
            .try_to_vec::<f64>()?
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
    }
    Ok(out)
}

/// Writes a tensor as an IDX file; gzip-compressed when the path ends in `.gz`.
pub fn write(t: &Tensor, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let raw = encode(t)?;
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        gzip(&raw)
    } else {
        raw
    };
    std::fs::write(path, bytes).map_err(|e| err(format!("cannot write {}: {e}", path.display())))
}

/// Gzip-compresses bytes (default level).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(code: u8, dims: &[u32]) -> Vec<u8> {
        let mut v = vec![0, 0, code, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    fn reason(r: Result<Tensor>) -> String {
        r.map(|t| format!("{:?}", t.shape())).unwrap_err().to_string()
    }

    #[test]
    fn every_element_type() {
        let mut b = header(0x08, &[2, 2]);
        b.extend([1, 2, 255, 0]);
        let t = parse(&b).unwrap();
        assert_eq!((t.dtype(), t.shape()), (DType::U8, &[2usize, 2][..]));
        assert_eq!(t.to_vec::<u8>(), vec![1, 2, 255, 0]);

        let mut b = header(0x09, &[3]);
        b.extend([0xff, 0x7f, 0x80]);
        assert_eq!(parse(&b).unwrap().to_vec::<i32>(), vec![-1, 127, -128]);

        let mut b = header(0x0B, &[2]);
        b.extend((-2i16).to_be_bytes());
        b.extend(300i16.to_be_bytes());
        let t = parse(&b).unwrap();
        assert_eq!((t.dtype(), t.to_vec::<i32>()), (DType::I32, vec![-2, 300]));

        let mut b = header(0x0C, &[1, 2]);
        b.extend((-70000i32).to_be_bytes());
        b.extend(i32::MAX.to_be_bytes());
        assert_eq!(parse(&b).unwrap().to_vec::<i32>(), vec![-70000, i32::MAX]);

        let mut b = header(0x0D, &[2]);
        b.extend(1.5f32.to_be_bytes());
        b.extend((-0.25f32).to_be_bytes());
        let t = parse(&b).unwrap();
        assert_eq!((t.dtype(), t.to_vec::<f32>()), (DType::F32, vec![1.5, -0.25]));

        let mut b = header(0x0E, &[1]);
        b.extend(std::f64::consts::PI.to_be_bytes());
        let t = parse(&b).unwrap();
        assert_eq!((t.dtype(), t.to_vec::<f64>()), (DType::F64, vec![std::f64::consts::PI]));
    }

    #[test]
    fn gzip_is_detected_by_magic() {
        let mut b = header(0x08, &[3]);
        b.extend([7, 8, 9]);
        assert_eq!(parse(&gzip(&b)).unwrap().to_vec::<u8>(), vec![7, 8, 9]);
    }

    #[test]
    fn errors_name_the_field() {
        assert!(reason(parse(&[1, 0, 8, 1])).contains("magic"));
        assert!(reason(parse(&[0, 0, 8])).contains("magic"));
        assert!(reason(parse(&header(0x0A, &[1]))).contains("dtype"));
        assert!(reason(parse(&[0, 0, 8, 0])).contains("rank"));
        assert!(reason(parse(&header(0x08, &[1; 9]))).contains("rank"));
        assert!(reason(parse(&header(0x08, &[1, 2])[..10])).contains("dims"));
        let huge = header(0x0E, &[u32::MAX; 8]);
        assert!(reason(parse(&huge)).contains("overflow"));
        let mut b = header(0x0C, &[2]);
        b.extend([0; 7]);
        let r = reason(parse(&b));
        assert!(
            r.contains("data") && r.contains("expected 8 bytes") && r.contains("got 7"),
            "{r}"
        );
        b.extend([0; 2]);
        assert!(reason(parse(&b)).contains("trailing"));
        let gz = gzip(&header(0x08, &[4]));
        let r = reason(parse(&gz[..gz.len() - 3]));
        assert!(r.contains("gzip") || r.contains("data"), "{r}");
    }

    #[test]
    fn encode_round_trips() {
        let t = Tensor::from_vec(vec![1.0f32, -2.0, 3.5, 0.0, 1e-3, 7.0], [2, 3]);
        let back = parse(&encode(&t).unwrap()).unwrap();
        assert_eq!(back.shape(), &[2, 3]);
        assert_eq!(back.to_vec::<f32>(), t.to_vec::<f32>());
        let l = Tensor::from_vec(vec![3i64, 1, 4], [3]);
        assert_eq!(parse(&encode(&l).unwrap()).unwrap().to_vec::<i64>(), vec![3, 1, 4]);
    }
}
