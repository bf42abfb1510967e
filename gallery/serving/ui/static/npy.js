"use strict";
/* Reading a stream file in the browser into numbers: .npy (NumPy's format) and .csv.
 * Both give {shape: [T, ...], data: Float64Array (row-major)} or throw a readable Error. */

const NPY_TYPES = {f4: Float32Array, f8: Float64Array, i1: Int8Array, i2: Int16Array,
                   i4: Int32Array, u1: Uint8Array, u2: Uint16Array, u4: Uint32Array,
                   b1: Uint8Array};

function parseNpy(buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.subarray(0, 6));
  if (magic !== "\x93NUMPY") throw new Error("this is not a .npy file (no NumPy header)");
  const major = bytes[6];
  const view = new DataView(buffer);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const order = /'fortran_order':\s*(True|False)/.exec(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !order || !shapeText) throw new Error("the .npy header cannot be read");
  const type = descr[1];
  const kind = type.slice(1);
  if (!(kind in NPY_TYPES) || type[0] === ">") {
    throw new Error(`the .npy file holds ${type} values; expected little-endian numbers ` +
                    "(float32/64 or integers)");
  }
  if (order[1] === "True") throw new Error("the .npy file is in Fortran order; save it with " +
                                           "numpy.save(np.ascontiguousarray(a))");
  const shape = shapeText[1].split(",").map((s) => s.trim()).filter((s) => s).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const Type = NPY_TYPES[kind];
  const offset = start + headerLength;
  if (buffer.byteLength - offset < count * Type.BYTES_PER_ELEMENT) {
    throw new Error("the .npy file is shorter than its header says (truncated?)");
  }
  const values = new Type(buffer.slice(offset, offset + count * Type.BYTES_PER_ELEMENT));
  return {shape, data: Float64Array.from(values)};
}

/** One frame per line, numbers separated by commas; a first line that is not numbers
 * (a header) is skipped. */
function parseCsv(text) {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
  const rows = [];
  lines.forEach((line, index) => {
    const cells = line.split(",").map((cell) => cell.trim());
    const numbers = cells.map((cell) => (cell === "" ? NaN : Number(cell)));
    if (numbers.some((v) => Number.isNaN(v))) {
      if (index === 0 && numbers.every((v) => Number.isNaN(v))) return;  // header
      throw new Error(`line ${index + 1} of the .csv file has a field that is not a number`);
    }
    if (rows.length && numbers.length !== rows[0].length) {
      throw new Error(`line ${index + 1} of the .csv file has ${numbers.length} values, the ` +
                      `first frame ${rows[0].length}`);
    }
    rows.push(numbers);
  });
  if (!rows.length) throw new Error("the .csv file has no frames");
  return {shape: [rows.length, rows[0].length], data: Float64Array.from(rows.flat())};
}

/** {shape, data} → nested arrays (what JSON requests carry). */
function nest(array) {
  const build = (offset, axis) => {
    if (axis === array.shape.length) return array.data[offset];
    const stride = array.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const out = new Array(array.shape[axis]);
    for (let i = 0; i < array.shape[axis]; i++) out[i] = build(offset + i * stride, axis + 1);
    return out;
  };
  return build(0, 0);
}
