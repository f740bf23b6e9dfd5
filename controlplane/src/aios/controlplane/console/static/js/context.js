// Who is signed in (from GET /api/v1/auth/me) and what their role allows.

const RANK = { viewer: 0, operator: 1, admin: 2, owner: 3 };
export const ctx = { me: null };

/** Whether the signed-in user's role includes ``role``. */
export function can(role) {
  return ctx.me !== null && RANK[ctx.me.user.role] >= RANK[role];
}
