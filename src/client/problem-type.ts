import { PROBLEM_BASE, Problem } from '../http/problem.js';

type ProblemTypes = {
  readonly [Name in keyof typeof Problem]: `${typeof PROBLEM_BASE}${(typeof Problem)[Name]['slug']}`;
};

/**
 * The `type` URI of every problem idemkit's middleware answers with, to compare with
 * `IdempotencyProblemError.problem.type`.
 *
 * @example
 * if (error.problem.type === ProblemType.KeyMismatch) newOrderForm();
 */
export const ProblemType = Object.fromEntries(
  Object.entries(Problem).map(([name, problem]) => [name, `${PROBLEM_BASE}${problem.slug}`]),
) as ProblemTypes;
