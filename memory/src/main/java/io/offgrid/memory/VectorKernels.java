package io.offgrid.memory;

import org.agrona.UnsafeApi;

/**
 * Tight loops over native memory for {@link Expr} evaluation: one loop per operator, operand
 * types and shape (vector-vector, vector-scalar, scalar-vector), so the operator is chosen once per
 * column, not once per row, and each loop is a plain counted loop the JIT can unroll and
 * vectorize. Addresses point at 8-byte values (or 1-byte booleans) already checked to be in range.
 */
final class VectorKernels
{
    static final int ADD = 0;
    static final int SUB = 1;
    static final int MUL = 2;
    static final int DIV = 3;
    static final int LT = 10;
    static final int LE = 11;
    static final int GT = 12;
    static final int GE = 13;
    static final int EQ = 14;
    static final int NE = 15;

    private VectorKernels()
    {
    }

    static void arithDVV(final int op, final long a, final long b, final long out, final int n)
    {
        switch (op)
        {
            case ADD:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putDouble(out + 8L * i, UnsafeApi.getDouble(a + 8L * i) + UnsafeApi.getDouble(b + 8L * i));
                }
                return;
            case SUB:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putDouble(out + 8L * i, UnsafeApi.getDouble(a + 8L * i) - UnsafeApi.getDouble(b + 8L * i));
                }
                return;
            case MUL:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putDouble(out + 8L * i, UnsafeApi.getDouble(a + 8L * i) * UnsafeApi.getDouble(b + 8L * i));
                }
                return;
            case DIV:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putDouble(out + 8L * i, UnsafeApi.getDouble(a + 8L * i) / UnsafeApi.getDouble(b + 8L * i));
                }
                return;
            default:
                throw new IllegalArgumentException("operator " + op);
        }
    }

    static void compareDVV(final int op, final long a, final long b, final long out, final int n)
    {
        switch (op)
        {
            case LT:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getDouble(a + 8L * i) < UnsafeApi.getDouble(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case LE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getDouble(a + 8L * i) <= UnsafeApi.getDouble(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case GT:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getDouble(a + 8L * i) > UnsafeApi.getDouble(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case GE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getDouble(a + 8L * i) >= UnsafeApi.getDouble(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case EQ:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getDouble(a + 8L * i) == UnsafeApi.getDouble(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case NE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getDouble(a + 8L * i) != UnsafeApi.getDouble(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            default:
                throw new IllegalArgumentException("operator " + op);
        }
    }

    static void arithDVS(final int op, final long a, final double s, final long out, final int n)
    {
        switch (op)
        {
            case ADD:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putDouble(out + 8L * i, UnsafeApi.getDouble(a + 8L * i) + s);
                }
                return;
            case SUB:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putDouble(out + 8L * i, UnsafeApi.getDouble(a + 8L * i) - s);
                }
                return;
            case MUL:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putDouble(out + 8L * i, UnsafeApi.getDouble(a + 8L * i) * s);
                }
                return;
            case DIV:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putDouble(out + 8L * i, UnsafeApi.getDouble(a + 8L * i) / s);
                }
                return;
            default:
                throw new IllegalArgumentException("operator " + op);
        }
    }

    static void compareDVS(final int op, final long a, final double s, final long out, final int n)
    {
        switch (op)
        {
            case LT:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getDouble(a + 8L * i) < s) ? (byte)1 : (byte)0);
                }
                return;
            case LE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getDouble(a + 8L * i) <= s) ? (byte)1 : (byte)0);
                }
                return;
            case GT:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getDouble(a + 8L * i) > s) ? (byte)1 : (byte)0);
                }
                return;
            case GE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getDouble(a + 8L * i) >= s) ? (byte)1 : (byte)0);
                }
                return;
            case EQ:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getDouble(a + 8L * i) == s) ? (byte)1 : (byte)0);
                }
                return;
            case NE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getDouble(a + 8L * i) != s) ? (byte)1 : (byte)0);
                }
                return;
            default:
                throw new IllegalArgumentException("operator " + op);
        }
    }

    static void arithDSV(final int op, final double s, final long b, final long out, final int n)
    {
        switch (op)
        {
            case ADD:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putDouble(out + 8L * i, s + UnsafeApi.getDouble(b + 8L * i));
                }
                return;
            case SUB:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putDouble(out + 8L * i, s - UnsafeApi.getDouble(b + 8L * i));
                }
                return;
            case MUL:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putDouble(out + 8L * i, s * UnsafeApi.getDouble(b + 8L * i));
                }
                return;
            case DIV:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putDouble(out + 8L * i, s / UnsafeApi.getDouble(b + 8L * i));
                }
                return;
            default:
                throw new IllegalArgumentException("operator " + op);
        }
    }

    static void compareDSV(final int op, final double s, final long b, final long out, final int n)
    {
        switch (op)
        {
            case LT:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (s < UnsafeApi.getDouble(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case LE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (s <= UnsafeApi.getDouble(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case GT:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (s > UnsafeApi.getDouble(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case GE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (s >= UnsafeApi.getDouble(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case EQ:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (s == UnsafeApi.getDouble(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case NE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (s != UnsafeApi.getDouble(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            default:
                throw new IllegalArgumentException("operator " + op);
        }
    }

    static void arithLVV(final int op, final long a, final long b, final long out, final int n)
    {
        switch (op)
        {
            case ADD:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putLong(out + 8L * i, UnsafeApi.getLong(a + 8L * i) + UnsafeApi.getLong(b + 8L * i));
                }
                return;
            case SUB:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putLong(out + 8L * i, UnsafeApi.getLong(a + 8L * i) - UnsafeApi.getLong(b + 8L * i));
                }
                return;
            case MUL:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putLong(out + 8L * i, UnsafeApi.getLong(a + 8L * i) * UnsafeApi.getLong(b + 8L * i));
                }
                return;
            default:
                throw new IllegalArgumentException("operator " + op);
        }
    }

    static void compareLVV(final int op, final long a, final long b, final long out, final int n)
    {
        switch (op)
        {
            case LT:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getLong(a + 8L * i) < UnsafeApi.getLong(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case LE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getLong(a + 8L * i) <= UnsafeApi.getLong(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case GT:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getLong(a + 8L * i) > UnsafeApi.getLong(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case GE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getLong(a + 8L * i) >= UnsafeApi.getLong(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case EQ:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getLong(a + 8L * i) == UnsafeApi.getLong(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case NE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getLong(a + 8L * i) != UnsafeApi.getLong(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            default:
                throw new IllegalArgumentException("operator " + op);
        }
    }

    static void arithLVS(final int op, final long a, final long s, final long out, final int n)
    {
        switch (op)
        {
            case ADD:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putLong(out + 8L * i, UnsafeApi.getLong(a + 8L * i) + s);
                }
                return;
            case SUB:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putLong(out + 8L * i, UnsafeApi.getLong(a + 8L * i) - s);
                }
                return;
            case MUL:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putLong(out + 8L * i, UnsafeApi.getLong(a + 8L * i) * s);
                }
                return;
            default:
                throw new IllegalArgumentException("operator " + op);
        }
    }

    static void compareLVS(final int op, final long a, final long s, final long out, final int n)
    {
        switch (op)
        {
            case LT:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getLong(a + 8L * i) < s) ? (byte)1 : (byte)0);
                }
                return;
            case LE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getLong(a + 8L * i) <= s) ? (byte)1 : (byte)0);
                }
                return;
            case GT:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getLong(a + 8L * i) > s) ? (byte)1 : (byte)0);
                }
                return;
            case GE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getLong(a + 8L * i) >= s) ? (byte)1 : (byte)0);
                }
                return;
            case EQ:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getLong(a + 8L * i) == s) ? (byte)1 : (byte)0);
                }
                return;
            case NE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (UnsafeApi.getLong(a + 8L * i) != s) ? (byte)1 : (byte)0);
                }
                return;
            default:
                throw new IllegalArgumentException("operator " + op);
        }
    }

    static void arithLSV(final int op, final long s, final long b, final long out, final int n)
    {
        switch (op)
        {
            case ADD:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putLong(out + 8L * i, s + UnsafeApi.getLong(b + 8L * i));
                }
                return;
            case SUB:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putLong(out + 8L * i, s - UnsafeApi.getLong(b + 8L * i));
                }
                return;
            case MUL:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putLong(out + 8L * i, s * UnsafeApi.getLong(b + 8L * i));
                }
                return;
            default:
                throw new IllegalArgumentException("operator " + op);
        }
    }

    static void compareLSV(final int op, final long s, final long b, final long out, final int n)
    {
        switch (op)
        {
            case LT:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (s < UnsafeApi.getLong(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case LE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (s <= UnsafeApi.getLong(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case GT:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (s > UnsafeApi.getLong(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case GE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (s >= UnsafeApi.getLong(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case EQ:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (s == UnsafeApi.getLong(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            case NE:
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putByte(out + i, (s != UnsafeApi.getLong(b + 8L * i)) ? (byte)1 : (byte)0);
                }
                return;
            default:
                throw new IllegalArgumentException("operator " + op);
        }
    }

    static void longToDouble(final long src, final long out, final int n)
    {
        for (int i = 0; i < n; i++)
        {
            UnsafeApi.putDouble(out + 8L * i, UnsafeApi.getLong(src + 8L * i));
        }
    }

    static void and(final long a, final long b, final long out, final int n)
    {
        for (int i = 0; i < n; i++)
        {
            UnsafeApi.putByte(out + i, (byte)(UnsafeApi.getByte(a + i) & UnsafeApi.getByte(b + i)));
        }
    }

    static void or(final long a, final long b, final long out, final int n)
    {
        for (int i = 0; i < n; i++)
        {
            UnsafeApi.putByte(out + i, (byte)(UnsafeApi.getByte(a + i) | UnsafeApi.getByte(b + i)));
        }
    }

    static void not(final long a, final long out, final int n)
    {
        for (int i = 0; i < n; i++)
        {
            UnsafeApi.putByte(out + i, (byte)(UnsafeApi.getByte(a + i) ^ 1));
        }
    }

    static void boolToLong(final long a, final long out, final int n)
    {
        for (int i = 0; i < n; i++)
        {
            UnsafeApi.putLong(out + 8L * i, UnsafeApi.getByte(a + i));
        }
    }

    static int countTrue(final long mask, final int n)
    {
        int count = 0;
        for (int i = 0; i < n; i++)
        {
            count += UnsafeApi.getByte(mask + i);
        }
        return count;
    }

    /** Copy the 8-byte values whose mask byte is 1, packed, to out. */
    static void compact8(final long src, final long mask, final long out, final int n)
    {
        int j = 0;
        for (int i = 0; i < n; i++)
        {
            if (UnsafeApi.getByte(mask + i) != 0)
            {
                UnsafeApi.putLong(out + 8L * j, UnsafeApi.getLong(src + 8L * i));
                j++;
            }
        }
    }

    static double sumDouble(final long a, final long mask, final int n)
    {
        double sum = 0;
        if (mask == 0)
        {
            for (int i = 0; i < n; i++)
            {
                sum += UnsafeApi.getDouble(a + 8L * i);
            }
        }
        else
        {
            for (int i = 0; i < n; i++)
            {
                sum += UnsafeApi.getByte(mask + i) != 0 ? UnsafeApi.getDouble(a + 8L * i) : 0.0;
            }
        }
        return sum;
    }

    static long sumLong(final long a, final int n)
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            sum += UnsafeApi.getLong(a + 8L * i);
        }
        return sum;
    }

    static double minDouble(final long a, final int n)
    {
        double min = Double.POSITIVE_INFINITY;
        for (int i = 0; i < n; i++)
        {
            min = Math.min(min, UnsafeApi.getDouble(a + 8L * i));
        }
        return min;
    }

    static double maxDouble(final long a, final int n)
    {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++)
        {
            max = Math.max(max, UnsafeApi.getDouble(a + 8L * i));
        }
        return max;
    }

    static long minLong(final long a, final int n)
    {
        long min = Long.MAX_VALUE;
        for (int i = 0; i < n; i++)
        {
            min = Math.min(min, UnsafeApi.getLong(a + 8L * i));
        }
        return min;
    }

    static long maxLong(final long a, final int n)
    {
        long max = Long.MIN_VALUE;
        for (int i = 0; i < n; i++)
        {
            max = Math.max(max, UnsafeApi.getLong(a + 8L * i));
        }
        return max;
    }

    /** Sum of the LONG values whose mask byte is 1 (every value when mask is 0). */
    static long sumLong(final long a, final long mask, final int n)
    {
        if (mask == 0)
        {
            return sumLong(a, n);
        }
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            sum += UnsafeApi.getByte(mask + i) != 0 ? UnsafeApi.getLong(a + 8L * i) : 0L;
        }
        return sum;
    }

    static long minLong(final long a, final long mask, final int n)
    {
        if (mask == 0)
        {
            return minLong(a, n);
        }
        long min = Long.MAX_VALUE;
        for (int i = 0; i < n; i++)
        {
            min = UnsafeApi.getByte(mask + i) != 0 ? Math.min(min, UnsafeApi.getLong(a + 8L * i)) : min;
        }
        return min;
    }

    static long maxLong(final long a, final long mask, final int n)
    {
        if (mask == 0)
        {
            return maxLong(a, n);
        }
        long max = Long.MIN_VALUE;
        for (int i = 0; i < n; i++)
        {
            max = UnsafeApi.getByte(mask + i) != 0 ? Math.max(max, UnsafeApi.getLong(a + 8L * i)) : max;
        }
        return max;
    }

    /** Sum, min and max of the DOUBLE values whose mask byte is 1 (every value when mask is 0), into out. */
    static void foldDouble(final long a, final long mask, final int n, final double[] out)
    {
        double sum = 0;
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++)
        {
            if (mask == 0 || UnsafeApi.getByte(mask + i) != 0)
            {
                final double v = UnsafeApi.getDouble(a + 8L * i);
                sum += v;
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
        }
        out[0] = sum;
        out[1] = min;
        out[2] = max;
    }

    /** Copy the 8-byte values whose mask byte is 1, packed, to out; returns how many. */
    static int compact8Count(final long src, final long mask, final long out, final int n)
    {
        int j = 0;
        for (int i = 0; i < n; i++)
        {
            if (UnsafeApi.getByte(mask + i) != 0)
            {
                UnsafeApi.putLong(out + 8L * j, UnsafeApi.getLong(src + 8L * i));
                j++;
            }
        }
        return j;
    }
}
