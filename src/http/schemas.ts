import { type TSchema, Type } from "@sinclair/typebox";

/** Shared reply/param schemas for the native API. */
export const ErrorReply = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});

export const Name = Type.String({ pattern: "^[a-z0-9][a-z0-9._-]{0,62}$", description: "lower-case name" });

export function paged<T extends TSchema>(item: T, key: string) {
  return Type.Object({ [key]: Type.Array(item), nextCursor: Type.Optional(Type.Integer()) });
}
