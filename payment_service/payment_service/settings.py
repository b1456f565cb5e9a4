"""payment_service: payments, refunds, provider adapters. Everything else comes from the kit."""

from service_kit.conf import env, service_settings

globals().update(
    service_settings(
        service="payment",
        apps=["payments"],
        # The order saga's commands: queues payment.charge and payment.refund.
        commands=["charge", "refund"],
        # The card network (payments/providers/). One namespace for the integration.
        PAYMENTS={
            # Dotted path of the adapter; a real provider is one more class next to the sandbox.
            "PROVIDER": env.str("PAYMENT_PROVIDER", "payments.providers.sandbox.SandboxProvider"),
            # Seconds the sandbox takes to answer each call (a card network is not instant).
            "SANDBOX_LATENCY": env.float("PAYMENT_SANDBOX_LATENCY", 0.02),
            # Seconds a provider call may take before it counts as unanswered (tok_timeout).
            # Far below the worker's soft time limit: the command never blocks a worker.
            "PROVIDER_TIMEOUT": env.float("PAYMENT_PROVIDER_TIMEOUT", 10.0),
            # Transient provider errors are tried again this many times in the call, backing off
            # from PROVIDER_RETRY_BACKOFF seconds (doubling); past that, the command is retried
            # on its own queue by the kit and the HTTP caller gets 503.
            "PROVIDER_RETRIES": env.int("PAYMENT_PROVIDER_RETRIES", 2),
            "PROVIDER_RETRY_BACKOFF": env.float("PAYMENT_PROVIDER_RETRY_BACKOFF", 0.1),
        },
        # The staff front page's figures (service_kit.console.api).
        CONSOLE_FIGURES=["payments.console.figures"],
    )
)
