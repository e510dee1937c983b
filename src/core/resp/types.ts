/** @module RESP2/RESP3 type bytes: the first byte of every frame, named once (a const enum: inlined, no lookup). */
export const enum RespType {
  SimpleString = 43, // +
  Error = 45, // -
  Integer = 58, // :
  BulkString = 36, // $
  Array = 42, // *
  Null = 95, // _
  Boolean = 35, // #
  Double = 44, // ,
  BigNumber = 40, // (
  BulkError = 33, // !
  VerbatimString = 61, // =
  Map = 37, // %
  Set = 126, // ~
  Attribute = 124, // |
  Push = 62, // >
}
