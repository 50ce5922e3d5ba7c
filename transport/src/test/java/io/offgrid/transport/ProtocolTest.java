package io.offgrid.transport;

import io.offgrid.transport.protocol.MessageHeaderDecoder;
import io.offgrid.transport.protocol.MessageHeaderEncoder;
import io.offgrid.transport.protocol.NodeRole;
import io.offgrid.transport.protocol.RegisterNodeDecoder;
import io.offgrid.transport.protocol.RegisterNodeEncoder;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProtocolTest
{
    private final SchemaMessages schema = SchemaMessages.load();
    private final MessageValidator validator = new MessageValidator();
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[64 * 1024]);

    @Test
    void validatorKnowsExactlyTheSchemasTemplates()
    {
        assertEquals(MessageHeaderDecoder.SCHEMA_ID, schema.schemaId());
        assertEquals(MessageHeaderDecoder.SCHEMA_VERSION, schema.version());
        for (final int id : schema.templateIds())
        {
            assertTrue(validator.isKnownTemplate(id), "validator misses " + schema.name(id));
        }
        for (int id = 0; id < 1000; id++)
        {
            if (validator.isKnownTemplate(id))
            {
                assertTrue(schema.templateIds().contains(id), "validator knows " + id + " which the schema lacks");
            }
        }
    }

    @Test
    void everyGeneratedMessageValidatesAndEveryTruncationFails()
    {
        final long seed = System.nanoTime();
        final Random random = new Random(seed);
        for (final int id : schema.templateIds())
        {
            for (int n = 0; n < 50; n++)
            {
                final int length = schema.encode(id, buffer, 0, random);
                assertEquals(MessageValidator.OK, validator.validate(buffer, 0, length),
                    () -> schema.name(id) + " seed " + seed);
                for (int cut = 0; cut < length; cut++)
                {
                    final int result = validator.validate(buffer, 0, cut);
                    assertNotEquals(MessageValidator.OK, result, "truncated " + schema.name(id) + " at " + cut + " seed " + seed);
                }
                assertEquals(MessageValidator.BAD_LENGTH, validator.validate(buffer, 0, length + 1), "trailing byte, seed " + seed);
            }
        }
    }

    @Test
    void refusesOtherVersionsSchemasTemplatesAndBlockLengths()
    {
        final Random random = new Random(42);
        final int length = schema.encode(100, buffer, 0, random);
        buffer.putShort(6, (short)(MessageHeaderDecoder.SCHEMA_VERSION + 1), ByteOrder.LITTLE_ENDIAN);
        assertEquals(MessageValidator.WRONG_VERSION, validator.validate(buffer, 0, length));
        buffer.putShort(6, (short)MessageHeaderDecoder.SCHEMA_VERSION, ByteOrder.LITTLE_ENDIAN);
        buffer.putShort(4, (short)1, ByteOrder.LITTLE_ENDIAN);
        assertEquals(MessageValidator.WRONG_SCHEMA, validator.validate(buffer, 0, length));
        buffer.putShort(4, (short)MessageHeaderDecoder.SCHEMA_ID, ByteOrder.LITTLE_ENDIAN);
        buffer.putShort(2, (short)999, ByteOrder.LITTLE_ENDIAN);
        assertEquals(MessageValidator.UNKNOWN_TEMPLATE, validator.validate(buffer, 0, length));
        buffer.putShort(2, (short)100, ByteOrder.LITTLE_ENDIAN);
        buffer.putShort(0, (short)(buffer.getShort(0, ByteOrder.LITTLE_ENDIAN) + 1), ByteOrder.LITTLE_ENDIAN);
        assertEquals(MessageValidator.BAD_BLOCK_LENGTH, validator.validate(buffer, 0, length));
    }

    @Test
    void lyingVarDataLengthIsRefused()
    {
        final RegisterNodeEncoder encoder = new RegisterNodeEncoder();
        encoder.wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder())
            .role(NodeRole.WORKER).threads(4).memoryLimit(1L << 30).pid(77).name("worker-1");
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        assertEquals(MessageValidator.OK, validator.validate(buffer, 0, length));
        final int lengthField = MessageHeaderEncoder.ENCODED_LENGTH + RegisterNodeEncoder.BLOCK_LENGTH;
        for (final int lie : new int[]{9, 1000, Integer.MAX_VALUE, -1, -8})
        {
            buffer.putInt(lengthField, lie, ByteOrder.LITTLE_ENDIAN);
            assertNotEquals(MessageValidator.OK, validator.validate(buffer, 0, length), "length " + lie);
        }
    }

    @Test
    void generatedCodecsRoundTrip()
    {
        final RegisterNodeEncoder encoder = new RegisterNodeEncoder();
        encoder.wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder())
            .role(NodeRole.CLIENT).threads(3).memoryLimit(123456789L).pid(4242).name("client-é");
        final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(buffer, 0);
        assertEquals(RegisterNodeDecoder.TEMPLATE_ID, header.templateId());
        final RegisterNodeDecoder decoder = new RegisterNodeDecoder()
            .wrap(buffer, MessageHeaderDecoder.ENCODED_LENGTH, header.blockLength(), header.version());
        assertEquals(NodeRole.CLIENT, decoder.role());
        assertEquals(3, decoder.threads());
        assertEquals(123456789L, decoder.memoryLimit());
        assertEquals(4242L, decoder.pid());
        assertEquals("client-é", decoder.name());
    }
}
