package io.offgrid.client;

import io.offgrid.client.internal.FrameTasks;
import io.offgrid.memory.Expr;

/**
 * One column (or numeric expression) of a {@link Frame}. Its aggregates are lazy {@link Scalar}s: one task per
 * partition folds the partition in place (fused with the frame's pending operations), and one small task merges
 * the partials.
 * <pre>{@code
 * Scalar<Number> total = frame.column("x").sum();
 * }</pre>
 */
public final class Series
{
    private final Frame frame;
    private final Expr expr;

    Series(final Frame frame, final Expr expr)
    {
        this.frame = frame;
        this.expr = expr;
    }

    /**
     * @return the expression this series evaluates.
     */
    public Expr expr()
    {
        return expr;
    }

    /**
     * @return the lazy sum: a Long for a LONG column, else a Double.
     */
    public Scalar<Number> sum()
    {
        return frame.aggregate(expr, FrameTasks.AggregateOp.SUM);
    }

    /**
     * @return the lazy mean (NaN for no rows).
     */
    public Scalar<Double> mean()
    {
        return frame.aggregate(expr, FrameTasks.AggregateOp.MEAN);
    }

    /**
     * @return the lazy minimum: Long or Double; null for no rows.
     */
    public Scalar<Number> min()
    {
        return frame.aggregate(expr, FrameTasks.AggregateOp.MIN);
    }

    /**
     * @return the lazy maximum: Long or Double; null for no rows.
     */
    public Scalar<Number> max()
    {
        return frame.aggregate(expr, FrameTasks.AggregateOp.MAX);
    }

    /**
     * @return the lazy number of values (columns hold no nulls: the row count).
     */
    public Scalar<Long> count()
    {
        return frame.aggregate(expr, FrameTasks.AggregateOp.COUNT);
    }
}
