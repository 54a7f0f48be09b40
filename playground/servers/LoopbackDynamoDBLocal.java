import java.lang.reflect.Field;
import java.lang.reflect.Method;

/**
 * Starts Amazon's DynamoDB Local bound to 127.0.0.1 only. DynamoDB Local has no bind option (its `-help`
 * lists none): its Jetty server listens on every interface. This launcher builds the same server from the
 * same command line (`ServerRunner.createServerFromCommandLineArgs`), sets the host of each Jetty connector
 * to the loopback address before starting it, and never configures telemetry.
 *
 * Run with DynamoDBLocal.jar on the class path; exits 70 with a message when the server's shape is not the
 * expected one (another DynamoDB Local version), so the caller can say so instead of listening on all
 * interfaces. Prints `LoopbackDynamoDBLocal: listening on 127.0.0.1` once it listens, and exits 1 when the
 * port cannot be bound.
 */
public final class LoopbackDynamoDBLocal {
  /** The line printed once the server listens; the Node starter waits for it. */
  static final String READY = "LoopbackDynamoDBLocal: listening on";

  private LoopbackDynamoDBLocal() {}

  public static void main(String[] args) throws Exception {
    Object proxy;
    Object server;
    try {
      Class<?> runner = Class.forName("software.amazon.dynamodb.services.local.main.ServerRunner");
      proxy = runner.getMethod("createServerFromCommandLineArgs", String[].class).invoke(null, (Object) args);
      Field field = proxy.getClass().getDeclaredField("server");
      field.setAccessible(true);
      server = field.get(proxy);
      Object[] connectors = (Object[]) server.getClass().getMethod("getConnectors").invoke(server);
      if (connectors.length == 0) throw new IllegalStateException("the server has no connector");
      for (Object connector : connectors) {
        Method setHost = connector.getClass().getMethod("setHost", String.class);
        setHost.invoke(connector, "127.0.0.1");
      }
    } catch (ReflectiveOperationException | RuntimeException error) {
      System.err.println("LoopbackDynamoDBLocal: cannot bind DynamoDB Local to 127.0.0.1: " + error);
      System.exit(70);
      return;
    }
    proxy.getClass().getMethod("start").invoke(proxy);
    // DynamoDB Local reports a port it cannot bind on stdout and keeps running without a listener: exit
    // instead, so the caller sees why, and never mistakes another server on that port for this one.
    if (!(Boolean) server.getClass().getMethod("isStarted").invoke(server)) System.exit(1);
    System.out.println(READY + " 127.0.0.1");
    System.out.flush();
  }
}
