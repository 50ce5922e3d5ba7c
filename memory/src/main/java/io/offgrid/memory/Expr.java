package io.offgrid.memory;

import io.offgrid.memory.internal.NativeMemory;

import java.io.Serializable;
import java.util.Map;
import java.util.Objects;

/**
 * An expression over the columns of a table: column references, literals, arithmetic, comparisons
 * and boolean logic, on LONG and DOUBLE columns. It is evaluated a column at a time by
 * {@link TableOps}: each operator is one tight loop over native memory, so no row is boxed and no
 * object is made per row. Expressions are small immutable values and serializable, so they travel
 * inside tasks.
 *
 * <p>Types: LONG op LONG stays LONG for + - *; division and any mix with DOUBLE give DOUBLE;
 * comparisons and and/or/not give BOOLEAN.
 */
public abstract class Expr implements Serializable
{
    private static final long serialVersionUID = 1L;

    /** Result types of an expression. */
    enum Kind
    {
        LONG, DOUBLE, BOOLEAN
    }

    Expr()
    {
    }

    /**
     * @param name a column name.
     * @return a reference to that column.
     */
    public static Expr col(final String name)
    {
        return new Column(Objects.requireNonNull(name, "name"));
    }

    /**
     * @param value a long literal.
     * @return the literal.
     */
    public static Expr lit(final long value)
    {
        return new Literal(Kind.LONG, value);
    }

    /**
     * @param value a double literal.
     * @return the literal.
     */
    public static Expr lit(final double value)
    {
        return new Literal(Kind.DOUBLE, Double.doubleToRawLongBits(value));
    }

    /**
     * @param other right operand.
     * @return this + other.
     */
    public Expr plus(final Expr other)
    {
        return new Binary(VectorKernels.ADD, "+", this, other);
    }

    /**
     * @param other right operand.
     * @return this - other.
     */
    public Expr minus(final Expr other)
    {
        return new Binary(VectorKernels.SUB, "-", this, other);
    }

    /**
     * @param other right operand.
     * @return this * other.
     */
    public Expr times(final Expr other)
    {
        return new Binary(VectorKernels.MUL, "*", this, other);
    }

    /**
     * @param other right operand.
     * @return this / other, always DOUBLE.
     */
    public Expr div(final Expr other)
    {
        return new Binary(VectorKernels.DIV, "/", this, other);
    }

    /**
     * @param other right operand.
     * @return this &lt; other.
     */
    public Expr lt(final Expr other)
    {
        return new Binary(VectorKernels.LT, "<", this, other);
    }

    /**
     * @param other right operand.
     * @return this &lt;= other.
     */
    public Expr le(final Expr other)
    {
        return new Binary(VectorKernels.LE, "<=", this, other);
    }

    /**
     * @param other right operand.
     * @return this &gt; other.
     */
    public Expr gt(final Expr other)
    {
        return new Binary(VectorKernels.GT, ">", this, other);
    }

    /**
     * @param other right operand.
     * @return this &gt;= other.
     */
    public Expr ge(final Expr other)
    {
        return new Binary(VectorKernels.GE, ">=", this, other);
    }

    /**
     * @param other right operand.
     * @return this == other.
     */
    public Expr eq(final Expr other)
    {
        return new Binary(VectorKernels.EQ, "==", this, other);
    }

    /**
     * @param other right operand.
     * @return this != other.
     */
    public Expr ne(final Expr other)
    {
        return new Binary(VectorKernels.NE, "!=", this, other);
    }

    /**
     * @param other a boolean expression.
     * @return this and other.
     */
    public Expr and(final Expr other)
    {
        return new Logic(true, this, other);
    }

    /**
     * @param other a boolean expression.
     * @return this or other.
     */
    public Expr or(final Expr other)
    {
        return new Logic(false, this, other);
    }

    /**
     * @return not this (a boolean expression).
     */
    public Expr not()
    {
        return new Not(this);
    }

    /** Number-literal conveniences. */

    /**
     * @param value right operand.
     * @return this + value.
     */
    public Expr plus(final double value)
    {
        return plus(lit(value));
    }

    /**
     * @param value right operand.
     * @return this * value.
     */
    public Expr times(final double value)
    {
        return times(lit(value));
    }

    /**
     * @param value right operand.
     * @return this &gt; value.
     */
    public Expr gt(final double value)
    {
        return gt(lit(value));
    }

    /**
     * @param value right operand.
     * @return this &lt; value.
     */
    public Expr lt(final double value)
    {
        return lt(lit(value));
    }

    abstract Vector eval(Evaluation ev);

    /**
     * The same expression with column references replaced: how a column added by an earlier
     * {@code withColumn} is folded into a later expression, so a pipeline can be evaluated straight
     * from its input table.
     *
     * @param columns replacement expression by column name; columns not named stay.
     * @return the rewritten expression (this one when nothing changes).
     */
    public abstract Expr substitute(Map<String, Expr> columns);

    /**
     * @return whether the expression gives a boolean (a comparison, and/or/not), known without
     *         evaluating it.
     */
    public abstract boolean isPredicate();

    /** A column-sized (or scalar) intermediate result. */
    static final class Vector
    {
        final Kind kind;
        final boolean scalar;
        final long address; // of the values, when not scalar
        final long bits;    // the value, when scalar (double bits for DOUBLE, 0/1 for BOOLEAN)

        Vector(final Kind kind, final boolean scalar, final long address, final long bits)
        {
            this.kind = kind;
            this.scalar = scalar;
            this.address = address;
            this.bits = bits;
        }

        double doubleValue()
        {
            return kind == Kind.DOUBLE ? Double.longBitsToDouble(bits) : (double)bits;
        }
    }

    /**
     * Evaluation of one expression over one table, or over a window of its rows at a time: owns the
     * temporaries it allocates. Evaluating the same expression window after window asks for the same
     * temporaries in the same order, so after the first window they are reused (warm in cache, no
     * allocation, no page faults).
     */
    static final class Evaluation implements AutoCloseable
    {
        final TableView table;
        int rows;
        int firstRow;
        private long[] temporaries = new long[8];
        private long[] sizes = new long[8];
        private int count;
        private int cursor;

        Evaluation(final TableView table)
        {
            this.table = table;
            this.rows = table.rowCount();
        }

        /** Rows [firstRow, firstRow + rows) from now on; temporaries are handed out again from the first. */
        void window(final int firstRow, final int rows)
        {
            this.firstRow = firstRow;
            this.rows = rows;
            this.cursor = 0;
        }

        long temporary(final long bytes)
        {
            final long length = Math.max(bytes, 8);
            if (cursor < count)
            {
                if (sizes[cursor] >= length)
                {
                    return temporaries[cursor++];
                }
                NativeMemory.free(temporaries[cursor], sizes[cursor]);
                temporaries[cursor] = NativeMemory.allocate(length);
                sizes[cursor] = length;
                return temporaries[cursor++];
            }
            if (count == temporaries.length)
            {
                temporaries = java.util.Arrays.copyOf(temporaries, count * 2);
                sizes = java.util.Arrays.copyOf(sizes, count * 2);
            }
            temporaries[count] = NativeMemory.allocate(length);
            sizes[count] = length;
            count++;
            cursor = count;
            return temporaries[count - 1];
        }

        Vector asDouble(final Vector v)
        {
            if (v.kind == Kind.DOUBLE)
            {
                return v;
            }
            if (v.kind == Kind.BOOLEAN)
            {
                throw new IllegalArgumentException("a boolean is used as a number");
            }
            if (v.scalar)
            {
                return new Vector(Kind.DOUBLE, true, 0, Double.doubleToRawLongBits((double)v.bits));
            }
            final long out = temporary(8L * rows);
            VectorKernels.longToDouble(v.address, out, rows);
            return new Vector(Kind.DOUBLE, false, out, 0);
        }

        @Override
        public void close()
        {
            for (int i = 0; i < count; i++)
            {
                NativeMemory.free(temporaries[i], sizes[i]);
            }
            count = 0;
            cursor = 0;
        }
    }

    static final class Column extends Expr
    {
        private static final long serialVersionUID = 1L;
        final String name;

        Column(final String name)
        {
            this.name = name;
        }

        Vector eval(final Evaluation ev)
        {
            final int index = ev.table.columnIndex(name);
            if (index < 0)
            {
                throw new IllegalArgumentException("no column named '" + name + "'");
            }
            final ColumnType type = ev.table.columnType(index);
            if (type == ColumnType.STRING)
            {
                throw new IllegalArgumentException("column '" + name + "' holds strings; expressions take numbers");
            }
            if (ev.table.buffer().byteArray() != null)
            {
                throw new IllegalArgumentException("expressions run on tables in native memory");
            }
            final long address = ev.table.buffer().addressOffset() + ev.table.columnOffset(index) + 8L * ev.firstRow;
            return new Vector(type == ColumnType.LONG ? Kind.LONG : Kind.DOUBLE, false, address, 0);
        }

        public Expr substitute(final Map<String, Expr> columns)
        {
            final Expr e = columns.get(name);
            return null == e ? this : e;
        }

        public boolean isPredicate()
        {
            return false;
        }

        @Override
        public String toString()
        {
            return "col(" + name + ")";
        }
    }

    static final class Literal extends Expr
    {
        private static final long serialVersionUID = 1L;
        final Kind kind;
        final long bits;

        Literal(final Kind kind, final long bits)
        {
            this.kind = kind;
            this.bits = bits;
        }

        Vector eval(final Evaluation ev)
        {
            return new Vector(kind, true, 0, bits);
        }

        public Expr substitute(final Map<String, Expr> columns)
        {
            return this;
        }

        public boolean isPredicate()
        {
            return false;
        }

        @Override
        public String toString()
        {
            return kind == Kind.DOUBLE ? Double.toString(Double.longBitsToDouble(bits)) : Long.toString(bits);
        }
    }

    static final class Binary extends Expr
    {
        private static final long serialVersionUID = 1L;
        final int op;
        final String symbol;
        final Expr left;
        final Expr right;

        Binary(final int op, final String symbol, final Expr left, final Expr right)
        {
            this.op = op;
            this.symbol = symbol;
            this.left = Objects.requireNonNull(left);
            this.right = Objects.requireNonNull(right);
        }

        Vector eval(final Evaluation ev)
        {
            Vector a = left.eval(ev);
            Vector b = right.eval(ev);
            final boolean comparison = op >= VectorKernels.LT;
            final boolean longs = a.kind == Kind.LONG && b.kind == Kind.LONG && op != VectorKernels.DIV;
            if (!longs)
            {
                a = ev.asDouble(a);
                b = ev.asDouble(b);
            }
            final Kind resultKind = comparison ? Kind.BOOLEAN : longs ? Kind.LONG : Kind.DOUBLE;
            if (a.scalar && b.scalar)
            {
                return new Vector(resultKind, true, 0, scalar(a, b, longs, comparison));
            }
            final int n = ev.rows;
            final long out = ev.temporary(comparison ? n : 8L * n);
            if (longs)
            {
                if (comparison)
                {
                    if (a.scalar)
                    {
                        VectorKernels.compareLSV(op, a.bits, b.address, out, n);
                    }
                    else if (b.scalar)
                    {
                        VectorKernels.compareLVS(op, a.address, b.bits, out, n);
                    }
                    else
                    {
                        VectorKernels.compareLVV(op, a.address, b.address, out, n);
                    }
                }
                else if (a.scalar)
                {
                    VectorKernels.arithLSV(op, a.bits, b.address, out, n);
                }
                else if (b.scalar)
                {
                    VectorKernels.arithLVS(op, a.address, b.bits, out, n);
                }
                else
                {
                    VectorKernels.arithLVV(op, a.address, b.address, out, n);
                }
            }
            else if (comparison)
            {
                if (a.scalar)
                {
                    VectorKernels.compareDSV(op, a.doubleValue(), b.address, out, n);
                }
                else if (b.scalar)
                {
                    VectorKernels.compareDVS(op, a.address, b.doubleValue(), out, n);
                }
                else
                {
                    VectorKernels.compareDVV(op, a.address, b.address, out, n);
                }
            }
            else if (a.scalar)
            {
                VectorKernels.arithDSV(op, a.doubleValue(), b.address, out, n);
            }
            else if (b.scalar)
            {
                VectorKernels.arithDVS(op, a.address, b.doubleValue(), out, n);
            }
            else
            {
                VectorKernels.arithDVV(op, a.address, b.address, out, n);
            }
            return new Vector(resultKind, false, out, 0);
        }

        private long scalar(final Vector a, final Vector b, final boolean longs, final boolean comparison)
        {
            if (longs)
            {
                final long x = a.bits;
                final long y = b.bits;
                switch (op)
                {
                    case VectorKernels.ADD: return x + y;
                    case VectorKernels.SUB: return x - y;
                    case VectorKernels.MUL: return x * y;
                    case VectorKernels.LT: return x < y ? 1 : 0;
                    case VectorKernels.LE: return x <= y ? 1 : 0;
                    case VectorKernels.GT: return x > y ? 1 : 0;
                    case VectorKernels.GE: return x >= y ? 1 : 0;
                    case VectorKernels.EQ: return x == y ? 1 : 0;
                    default: return x != y ? 1 : 0;
                }
            }
            final double x = a.doubleValue();
            final double y = b.doubleValue();
            final double r;
            switch (op)
            {
                case VectorKernels.ADD: r = x + y; break;
                case VectorKernels.SUB: r = x - y; break;
                case VectorKernels.MUL: r = x * y; break;
                case VectorKernels.DIV: r = x / y; break;
                case VectorKernels.LT: return x < y ? 1 : 0;
                case VectorKernels.LE: return x <= y ? 1 : 0;
                case VectorKernels.GT: return x > y ? 1 : 0;
                case VectorKernels.GE: return x >= y ? 1 : 0;
                case VectorKernels.EQ: return x == y ? 1 : 0;
                default: return x != y ? 1 : 0;
            }
            return comparison ? 0 : Double.doubleToRawLongBits(r);
        }

        public Expr substitute(final Map<String, Expr> columns)
        {
            final Expr l = left.substitute(columns);
            final Expr r = right.substitute(columns);
            return l == left && r == right ? this : new Binary(op, symbol, l, r);
        }

        public boolean isPredicate()
        {
            return op >= VectorKernels.LT;
        }

        @Override
        public String toString()
        {
            return "(" + left + " " + symbol + " " + right + ")";
        }
    }

    static final class Logic extends Expr
    {
        private static final long serialVersionUID = 1L;
        final boolean and;
        final Expr left;
        final Expr right;

        Logic(final boolean and, final Expr left, final Expr right)
        {
            this.and = and;
            this.left = Objects.requireNonNull(left);
            this.right = Objects.requireNonNull(right);
        }

        Vector eval(final Evaluation ev)
        {
            final Vector a = requireBoolean(left.eval(ev));
            final Vector b = requireBoolean(right.eval(ev));
            if (a.scalar && b.scalar)
            {
                return new Vector(Kind.BOOLEAN, true, 0, and ? a.bits & b.bits : a.bits | b.bits);
            }
            if (a.scalar || b.scalar)
            {
                final Vector s = a.scalar ? a : b;
                final Vector v = a.scalar ? b : a;
                // true and v = v; false or v = v; false and v = false; true or v = true.
                return (s.bits == 1) == and ? v : s;
            }
            final long out = ev.temporary(ev.rows);
            if (and)
            {
                VectorKernels.and(a.address, b.address, out, ev.rows);
            }
            else
            {
                VectorKernels.or(a.address, b.address, out, ev.rows);
            }
            return new Vector(Kind.BOOLEAN, false, out, 0);
        }

        public Expr substitute(final Map<String, Expr> columns)
        {
            final Expr l = left.substitute(columns);
            final Expr r = right.substitute(columns);
            return l == left && r == right ? this : new Logic(and, l, r);
        }

        public boolean isPredicate()
        {
            return true;
        }

        @Override
        public String toString()
        {
            return "(" + left + (and ? " and " : " or ") + right + ")";
        }
    }

    static final class Not extends Expr
    {
        private static final long serialVersionUID = 1L;
        final Expr operand;

        Not(final Expr operand)
        {
            this.operand = Objects.requireNonNull(operand);
        }

        Vector eval(final Evaluation ev)
        {
            final Vector a = requireBoolean(operand.eval(ev));
            if (a.scalar)
            {
                return new Vector(Kind.BOOLEAN, true, 0, a.bits ^ 1);
            }
            final long out = ev.temporary(ev.rows);
            VectorKernels.not(a.address, out, ev.rows);
            return new Vector(Kind.BOOLEAN, false, out, 0);
        }

        public Expr substitute(final Map<String, Expr> columns)
        {
            final Expr o = operand.substitute(columns);
            return o == operand ? this : new Not(o);
        }

        public boolean isPredicate()
        {
            return true;
        }

        @Override
        public String toString()
        {
            return "not " + operand;
        }
    }

    static Vector requireBoolean(final Vector v)
    {
        if (v.kind != Kind.BOOLEAN)
        {
            throw new IllegalArgumentException("and/or/not need a comparison, got a number");
        }
        return v;
    }
}
