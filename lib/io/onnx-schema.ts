// The part of the ONNX protobuf schema (onnx/onnx.proto3, IR version 7-8) that an exported
// inference graph needs, declared through protobufjs's reflection API. Field numbers are the
// spec's; fields we never write are left out (protobuf readers skip nothing they do not see).
import protobuf from 'protobufjs';

const { Root, Type, Field, Enum } = protobuf;

/** TensorProto.DataType codes used by the exporter. */
export const OnnxDataType = { FLOAT: 1, INT32: 6, INT64: 7, DOUBLE: 11 } as const;

/** AttributeProto.AttributeType codes. */
export const OnnxAttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

function buildRoot(): protobuf.Root {
  const dimension = new Type('Dimension')
    .add(new Field('dimValue', 1, 'int64'))
    .add(new Field('dimParam', 2, 'string'));
  const shape = new Type('TensorShapeProto').add(dimension).add(new Field('dim', 1, 'Dimension', 'repeated'));
  const tensorType = new Type('Tensor')
    .add(new Field('elemType', 1, 'int32'))
    .add(new Field('shape', 2, 'TensorShapeProto'));
  const typeProto = new Type('TypeProto').add(tensorType).add(new Field('tensorType', 1, 'Tensor'));
  const valueInfo = new Type('ValueInfoProto')
    .add(new Field('name', 1, 'string'))
    .add(new Field('type', 2, 'TypeProto'))
    .add(new Field('docString', 3, 'string'));
  const tensor = new Type('TensorProto')
    .add(new Field('dims', 1, 'int64', 'repeated'))
    .add(new Field('dataType', 2, 'int32'))
    .add(new Field('int64Data', 7, 'int64', 'repeated'))
    .add(new Field('name', 8, 'string'))
    .add(new Field('rawData', 9, 'bytes'))
    .add(new Field('docString', 12, 'string'));
  const attrType = new Enum('AttributeType', { UNDEFINED: 0, ...OnnxAttributeType });
  const attribute = new Type('AttributeProto')
    .add(attrType)
    .add(new Field('name', 1, 'string'))
    .add(new Field('f', 2, 'float'))
    .add(new Field('i', 3, 'int64'))
    .add(new Field('s', 4, 'bytes'))
    .add(new Field('t', 5, 'TensorProto'))
    .add(new Field('floats', 7, 'float', 'repeated'))
    .add(new Field('ints', 8, 'int64', 'repeated'))
    .add(new Field('strings', 9, 'bytes', 'repeated'))
    .add(new Field('type', 20, 'AttributeType'));
  const node = new Type('NodeProto')
    .add(new Field('input', 1, 'string', 'repeated'))
    .add(new Field('output', 2, 'string', 'repeated'))
    .add(new Field('name', 3, 'string'))
    .add(new Field('opType', 4, 'string'))
    .add(new Field('attribute', 5, 'AttributeProto', 'repeated'))
    .add(new Field('docString', 6, 'string'))
    .add(new Field('domain', 7, 'string'));
  const graph = new Type('GraphProto')
    .add(new Field('node', 1, 'NodeProto', 'repeated'))
    .add(new Field('name', 2, 'string'))
    .add(new Field('initializer', 5, 'TensorProto', 'repeated'))
    .add(new Field('docString', 10, 'string'))
    .add(new Field('input', 11, 'ValueInfoProto', 'repeated'))
    .add(new Field('output', 12, 'ValueInfoProto', 'repeated'))
    .add(new Field('valueInfo', 13, 'ValueInfoProto', 'repeated'));
  const opset = new Type('OperatorSetIdProto')
    .add(new Field('domain', 1, 'string'))
    .add(new Field('version', 2, 'int64'));
  const model = new Type('ModelProto')
    .add(new Field('irVersion', 1, 'int64'))
    .add(new Field('producerName', 2, 'string'))
    .add(new Field('producerVersion', 3, 'string'))
    .add(new Field('domain', 4, 'string'))
    .add(new Field('modelVersion', 5, 'int64'))
    .add(new Field('docString', 6, 'string'))
    .add(new Field('graph', 7, 'GraphProto'))
    .add(new Field('opsetImport', 8, 'OperatorSetIdProto', 'repeated'));
  const ns = new protobuf.Namespace('onnx')
    .add(shape)
    .add(typeProto)
    .add(valueInfo)
    .add(tensor)
    .add(attribute)
    .add(node)
    .add(graph)
    .add(opset)
    .add(model);
  const root = new Root();
  root.add(ns);
  root.resolveAll();
  return root;
}

let modelType: protobuf.Type | null = null;

/** The onnx.ModelProto message type (built once). */
export function onnxModelType(): protobuf.Type {
  modelType ??= buildRoot().lookupType('onnx.ModelProto');
  return modelType;
}
